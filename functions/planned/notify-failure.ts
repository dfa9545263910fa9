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
  const child = nestedFailure(state.error);
  const refused = child ? child.refused : state.error?.Error === REFUSED;
  const outcome = refused ? 'refused' : 'failed';
  const cause = child
    ? child.cause
    : refused
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

/**
 * A nested execution that did not succeed (maintenance's switchover) fails its Task with
 * States.TaskFailed and the child's description as the Cause (JSON with its Error and Cause). The
 * child notified its own outcome with the details; this names it. Its refusal ("SwitchoverRefused")
 * is this workflow's refusal too.
 */
export function nestedFailure(error?: {
  Error: string;
  Cause: string;
}): { refused: boolean; cause: string } | undefined {
  if (error?.Error !== 'States.TaskFailed') return undefined;
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(error.Cause) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const name = d.Name ?? d.name ?? d.ExecutionArn ?? d.executionArn;
  const status = d.Status ?? d.status;
  if (typeof name !== 'string' || typeof status !== 'string') return undefined;
  const err = String(d.Error ?? d.error ?? status);
  const refused = err.endsWith(REFUSED);
  const what = refused ? 'was refused' : status === 'FAILED' ? 'failed' : `ended ${status}`;
  return { refused, cause: `nested execution ${name} ${what} (${err}: ${causeOf(String(d.Cause ?? d.cause ?? ''))})` };
}
