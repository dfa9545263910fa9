/**
 * What every trigger does once it has understood its event: name the execution so that every sensor
 * reporting the same failure names it the same (cluster, timeline, failed node, failover epoch), and
 * start the failover workflow. Step Functions (or the lab's runner) refuses a second execution with
 * the same name: duplicates collapse (invariant 3). The epoch moves on when an execution ends, so a
 * new failure after a false alarm, a pause or a refusal gets an execution of its own; within the
 * workflow, the cluster's lease keeps any two executions from acting at once.
 */
import { executionName } from '../lib/execution-name';
import type { Deps, StartResult } from '../lib/ports';
import type { FailoverInput, TriggerSource } from '../failover/types';

export class InvalidEventError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'InvalidEvent';
  }
}

export type TriggerOutcome =
  | ({ action: 'started' | 'collapsed'; workflow: 'failover'; suspect: string } & Omit<StartResult, 'started'>)
  | { action: 'ignored'; reason: string };

export async function startFailover(
  deps: Deps,
  t: { source: TriggerSource; reason: string; suspect?: string; at?: Date; detail?: Record<string, unknown> },
): Promise<TriggerOutcome> {
  const topo = await deps.topology.get(deps.cluster);
  const suspect = t.suspect ?? topo.primary;
  const at = t.at ?? deps.now();
  const name = executionName([deps.cluster, 'failover', `tl${topo.timeline}`, suspect, `e${topo.failoverEpoch ?? 0}`]);
  const input: FailoverInput = {
    cluster: deps.cluster,
    executionName: name,
    trigger: { source: t.source, reason: t.reason, suspect, at: at.toISOString(), detail: t.detail },
  };
  const r = await deps.workflows.start('failover', name, input);
  deps.log(`trigger ${t.source}: ${r.started ? 'started' : 'collapsed into'} ${name}`, { reason: t.reason });
  return {
    action: r.started ? 'started' : 'collapsed',
    workflow: 'failover',
    suspect,
    executionName: r.executionName,
    executionArn: r.executionArn,
  };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
