/**
 * Every failure path of a planned workflow ends here, never in silence (shared by switchover,
 * rejoin, maintenance, scale out/in): a refusal (nothing was changed) or a failure after retries is
 * recorded, counted, notified, and the cluster's lease released. The Choice after it ends the
 * execution as "<Workflow>Refused" or "<Workflow>Failed".
 */
import { lambda } from '../lib/handler';
import { METRIC_NAMESPACE, type Deps } from '../lib/ports';
import { datum } from '../lib/metric-spec';
import { causeOf, REFUSED, release, type PlannedInput } from './common';
import { WORKFLOW_METRICS } from './record';

export async function step(
  state: PlannedInput & { error?: { Error: string; Cause: string }; abort?: unknown },
  deps: Deps,
) {
  const refused = state.error?.Error === REFUSED;
  const outcome = refused ? 'refused' : 'failed';
  const cause = refused
    ? causeOf(state.error?.Cause)
    : `${state.error?.Error ?? 'Error'}: ${causeOf(state.error?.Cause)}`;
  await release(deps, state.executionName, `${state.workflow}-${outcome}`, { outcome, cause });
  await deps.metrics.put(METRIC_NAMESPACE, [
    datum(WORKFLOW_METRICS.WorkflowRuns, 1, { Cluster: state.cluster, Workflow: state.workflow, Outcome: outcome }),
  ]);
  await deps.notifier.notify(`pgwarden ${state.cluster}: ${state.workflow} ${refused ? 'refused' : 'FAILED'}`, {
    cluster: state.cluster,
    execution: state.executionName,
    workflow: state.workflow,
    outcome,
    cause,
    abort: state.abort,
    needsOperator: !refused,
  });
  return { outcome, cause };
}

export const handler = lambda(step);
