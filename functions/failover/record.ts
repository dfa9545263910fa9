/**
 * Record what the workflow decided and did: an event in the topology history, metrics, a
 * notification when something changed or needs a human, and the cluster's lease released.
 * Used by both ends of the workflow: after a failover, and when Assess decided not to act.
 */
import { lambda } from '../lib/handler';
import { probeNode } from '../lib/db';
import { datum, type MetricSpec } from '../lib/metric-spec';
import { nodeAction } from '../lib/node-action';
import { startRejoin } from '../triggers/rejoin-start';
import { settings } from '../lib/settings';
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
  /** Stale standbys whose rejoin this failover started. */
  rejoining?: string[];
  /** False alarm: the pgpools where the primary was attached again. */
  reattached?: string[];
}

export async function step(state: FailoverState, deps: Deps): Promise<RecordResult> {
  const failedOver = !!state.promote;
  const outcome = failedOver ? 'failed-over' : (state.assess?.decision ?? 'unknown');
  const durationMs = Math.max(0, deps.now().getTime() - Date.parse(state.trigger.at));
  const summary = failedOver
    ? `${state.assess!.primary} -> ${state.promote!.node} (timeline ${state.promote!.timeline}) in ${durationMs} ms; ${state.elect?.reason ?? ''}`
    : `no action: ${state.assess?.reason ?? 'no assessment'}`;
  // A healthy primary that a pgpool detached (one network error or a slow health check is enough)
  // leaves that pgpool routing writes nowhere: attach it again wherever it is down.
  const reattached = outcome === 'false-alarm' ? await reattachPrimary(state, deps) : undefined;
  await recordOutcome(
    state,
    deps,
    outcome,
    reattached?.length ? `${summary}; re-attached in ${reattached.join(', ')}` : summary,
    durationMs,
    failedOver ? 'failover' : 'failover-no-action',
  );
  // Standbys the failover left behind (unreachable at the election, on an older timeline) and that
  // answer now are rejoined at once; the others when they are seen running (EC2 running event).
  const rejoining = failedOver ? await rejoinStale(deps) : undefined;
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
  return { outcome, summary, durationMs, ...(reattached ? { reattached } : {}), ...(rejoining ? { rejoining } : {}) };
}

/** Start the rejoin of the first stale node that answers (one workflow at a time holds the cluster). */
async function rejoinStale(deps: Deps): Promise<string[]> {
  const t = await deps.topology.get(deps.cluster);
  const creds = await deps.secrets.admin();
  for (const n of t.nodes.filter((x) => x.stale && x.role === 'standby')) {
    const p = await probeNode(n, creds, settings().probeTimeoutMs);
    if (!p.reachable) continue;
    try {
      const r = await startRejoin(
        deps,
        n.name,
        `left on timeline ${p.timeline ?? '?'} by the failover to ${t.primary}`,
      );
      return [`${n.name}: ${r.executionName}`];
    } catch (e) {
      deps.log('rejoin of a stale standby not started', { node: n.name, error: (e as Error).message });
    }
  }
  return [];
}

/**
 * False alarm: the primary answers as a writable primary. Attach it in every pgpool that counts it
 * down (pgpool-attach.sh does nothing where it is up). Returns the pgpools where it was attached.
 */
export async function reattachPrimary(state: FailoverState, deps: Deps): Promise<string[]> {
  const t = await deps.topology.get(state.cluster);
  const primary = t.nodes.find((n) => n.name === state.assess?.primary);
  if (!primary || t.primary !== primary.name) return [];
  const s = settings();
  const done: string[] = [];
  await Promise.all(
    t.pgpools.map(async (p) => {
      try {
        const r = await nodeAction(
          deps,
          p,
          'pgpool-attach',
          { NODE_ID: String(primary.backendId) },
          s.nodeCommandTimeoutMs,
        );
        if (r.changed === 'yes') done.push(p.name);
      } catch (e) {
        deps.log('re-attach of the primary failed', { pgpool: p.name, error: (e as Error).message });
      }
    }),
  );
  if (done.length) deps.log('false alarm: primary re-attached', { node: primary.name, pgpools: done });
  return done.sort();
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
