/**
 * Record a planned workflow's success (shared by switchover, rejoin, maintenance, scale out/in): an
 * event in the topology history, metrics, a notification, and the cluster's lease released.
 */
import { lambda } from '../lib/handler';
import { datum, type MetricSpec } from '../lib/metric-spec';
import { METRIC_NAMESPACE, type Deps } from '../lib/ports';
import { release, type PlannedInput } from './common';

/** Planned workflows (switchover, rejoin, maintenance, scale out/in) publish these; see notify-failure.ts too. */
export const WORKFLOW_METRICS = {
  WorkflowRuns: { name: 'WorkflowRuns', unit: 'Count', dimensions: ['Cluster', 'Workflow', 'Outcome'] },
  WorkflowDuration: { name: 'WorkflowDuration', unit: 'Milliseconds', dimensions: ['Cluster', 'Workflow'] },
} satisfies Record<string, MetricSpec>;

export interface RecordResult {
  outcome: 'succeeded';
  summary: string;
  durationMs: number;
}

export async function step(state: PlannedInput & Record<string, unknown>, deps: Deps): Promise<RecordResult> {
  const durationMs = Math.max(0, deps.now().getTime() - Date.parse(await startedAt(state, deps)));
  const summary = summarize(state, durationMs);
  await release(deps, state.executionName, state.workflow, { outcome: 'succeeded', summary });
  const dims = { Cluster: state.cluster, Workflow: state.workflow };
  await deps.metrics.put(METRIC_NAMESPACE, [
    datum(WORKFLOW_METRICS.WorkflowRuns, 1, { ...dims, Outcome: 'succeeded' }),
    datum(WORKFLOW_METRICS.WorkflowDuration, durationMs, dims),
  ]);
  await deps.notifier.notify(`pgwarden ${state.cluster}: ${state.workflow} completed`, {
    cluster: state.cluster,
    execution: state.executionName,
    workflow: state.workflow,
    reason: state.reason,
    summary,
  });
  deps.log(`${state.workflow} completed`, { execution: state.executionName, summary });
  return { outcome: 'succeeded', summary, durationMs };
}

/**
 * When the work began: when it was asked (`at`); for a nested execution (maintenance's switchover),
 * whose `at` is its parent's, when it took the lease over from the parent.
 */
async function startedAt(state: PlannedInput & Record<string, unknown>, deps: Deps): Promise<string> {
  if (typeof state.parentExecution === 'string') {
    const lease = (await deps.topology.get(deps.cluster)).lease;
    if (lease?.execution === state.executionName) return lease.since;
  }
  return state.at ?? deps.now().toISOString();
}

function summarize(state: Record<string, unknown>, ms: number): string {
  const sw = state.switch as { oldPrimary: string; newPrimary: string; timeline: number } | undefined;
  const parts: string[] = [];
  if (sw) parts.push(`${sw.oldPrimary} -> ${sw.newPrimary} (timeline ${sw.timeline})`);
  const node = state.node;
  if (typeof node === 'string') parts.push(`node ${node}`);
  else if (node && typeof node === 'object' && 'name' in node) parts.push(`node ${String(node.name)}`);
  const rw = state.rewind as { method?: string } | undefined;
  if (rw?.method) parts.push(`by ${rw.method}`);
  parts.push(`in ${ms} ms`);
  return parts.join(', ');
}

export const handler = lambda(step);
