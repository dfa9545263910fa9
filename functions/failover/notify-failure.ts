/**
 * Every failure path ends here, never in silence: a step that failed after its retries, or an
 * election that refused to promote because no candidate provably holds every acknowledged commit.
 * Records the event, raises the metric the alarm watches, notifies, releases the lease.
 */
import { causeOf, lambda } from '../lib/handler';
import { METRIC_NAMESPACE, type Deps } from '../lib/ports';
import { datum } from '../lib/metric-spec';
import { FAILOVER_METRICS, recordOutcome } from './record';
import type { FailoverState } from './types';

export async function step(state: FailoverState, deps: Deps) {
  const refused = !state.error && state.elect && state.elect.candidate === null;
  const outcome = refused ? 'refused' : 'failed';
  const cause = refused ? state.elect!.reason : `${state.error?.Error ?? 'Error'}: ${causeOf(state.error?.Cause)}`;
  const durationMs = Math.max(0, deps.now().getTime() - Date.parse(state.trigger?.at ?? deps.now().toISOString()));
  await recordOutcome(state, deps, outcome, cause, durationMs, refused ? 'failover-refused' : 'failover-failed');
  await deps.metrics.put(METRIC_NAMESPACE, [
    datum(refused ? FAILOVER_METRICS.FailoverRefused : FAILOVER_METRICS.FailoverFailed, 1, { Cluster: state.cluster }),
  ]);
  await deps.notifier.notify(
    `pgwarden ${state.cluster}: ${refused ? 'FAILOVER REFUSED - no safe candidate' : 'FAILOVER FAILED'}`,
    {
      cluster: state.cluster,
      execution: state.executionName,
      outcome,
      cause,
      needsOperator: true,
      state: { assess: state.assess?.reason, fence: state.fence, elect: state.elect, promote: state.promote },
    },
  );
  return { outcome, cause };
}

export const handler = lambda(step);
