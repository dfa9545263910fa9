/**
 * Record what the workflow decided and did: an event in the topology history, metrics, a
 * notification when something changed or needs a human, and the cluster's lease released.
 * Used by both ends of the workflow: after a failover, and when Assess decided not to act.
 */
import { lambda } from '../lib/handler';
import { datum, type MetricSpec } from '../lib/metric-spec';
import { METRIC_NAMESPACE, type Deps } from '../lib/ports';
import { withEvent } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import type { FailoverState } from './types';

export const FAILOVER_METRICS = {
  FailoverWorkflowRuns: { name: 'FailoverWorkflowRuns', unit: 'Count', dimensions: ['Cluster', 'Outcome'] },
  FailoverCount: { name: 'FailoverCount', unit: 'Count', dimensions: ['Cluster'] },
  FailoverDuration: { name: 'FailoverDuration', unit: 'Milliseconds', dimensions: ['Cluster'] },
  FailoverRefused: { name: 'FailoverRefused', unit: 'Count', dimensions: ['Cluster'] },
  FailoverFailed: { name: 'FailoverFailed', unit: 'Count', dimensions: ['Cluster'] },
} satisfies Record<string, MetricSpec>;

export interface RecordResult {
  outcome: string;
  summary: string;
  durationMs: number;
}

export async function step(state: FailoverState, deps: Deps): Promise<RecordResult> {
  const failedOver = !!state.promote;
  const outcome = failedOver ? 'failed-over' : (state.assess?.decision ?? 'unknown');
  const durationMs = Math.max(0, deps.now().getTime() - Date.parse(state.trigger.at));
  const summary = failedOver
    ? `${state.assess!.primary} -> ${state.promote!.node} (timeline ${state.promote!.timeline}) in ${durationMs} ms; ${state.elect?.reason ?? ''}`
    : `no action: ${state.assess?.reason ?? 'no assessment'}`;
  await recordOutcome(state, deps, outcome, summary, durationMs, failedOver ? 'failover' : 'failover-no-action');
  if (failedOver || outcome === 'inconclusive') {
    await deps.notifier.notify(
      `pgwarden ${state.cluster}: ${failedOver ? 'failover completed' : `failover ${outcome}`}`,
      {
        cluster: state.cluster,
        execution: state.executionName,
        outcome,
        summary,
        trigger: state.trigger,
        steps: {
          assess: state.assess?.reason,
          fence: state.fence,
          elect: state.elect?.reason,
          promote: state.promote,
          verify: state.verify,
        },
      },
    );
  }
  return { outcome, summary, durationMs };
}

export async function recordOutcome(
  state: FailoverState,
  deps: Deps,
  outcome: string,
  summary: string,
  durationMs: number,
  kind: string,
): Promise<void> {
  await updateTopology(deps, (cur) => {
    const next = withEvent(
      cur,
      kind,
      { execution: state.executionName, outcome, summary, trigger: state.trigger.source },
      deps.now(),
    );
    if (next.lease?.execution === state.executionName) delete next.lease;
    next.failoverEpoch = (cur.failoverEpoch ?? 0) + 1;
    return next;
  });
  const dims = { Cluster: state.cluster };
  await deps.metrics.put(METRIC_NAMESPACE, [
    datum(FAILOVER_METRICS.FailoverWorkflowRuns, 1, { ...dims, Outcome: outcome }),
    ...(outcome === 'failed-over'
      ? [datum(FAILOVER_METRICS.FailoverCount, 1, dims), datum(FAILOVER_METRICS.FailoverDuration, durationMs, dims)]
      : []),
  ]);
  deps.log(`failover outcome: ${outcome}`, { execution: state.executionName, summary });
}

export const handler = lambda(step);
