/**
 * pgpool-II's failover_command -> failover: the fast-path sensor. pgpool reports which backend it
 * detached (the hook script turns %d %h %p ... into JSON). pgpool never promotes: if the detached
 * node is the primary, the workflow decides; if it is a standby, the workflow records a standby
 * failure and promotes nothing.
 *
 * A planned switch (a switchover, alone or nested in rolling maintenance) stops the primary on
 * purpose, and pgpool fails over by itself. pgpool runs this hook before it searches for the new
 * primary. So, when the detached node is the primary of record and the lease says a switch is stopping
 * it (`switching`, set by the switch step just before the stop), the hook starts no failover: it waits
 * (hookSwitchWaitMs, the same setting in AWS and the lab) until the topology records the promotion
 * (the switch records it at once) and returns, so that pgpool's search finds the new primary.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import type { NodeSpec, Topology } from '../lib/topology';
import { InvalidEventError, isObject, startFailover, type TriggerOutcome } from './common';

export async function handle(event: unknown, deps: Deps): Promise<TriggerOutcome> {
  if (!isObject(event)) throw new InvalidEventError('event must be a JSON object');
  if (event.source !== 'pgpool')
    throw new InvalidEventError(`not a pgpool failover event (source=${String(event.source)})`);
  const id = event.failedNodeId;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
    throw new InvalidEventError(`failedNodeId must be a non-negative integer, got ${JSON.stringify(id)}`);
  }
  const topo = await deps.topology.get(deps.cluster);
  const node = topo.nodes.find((n) => n.backendId === id);
  if (!node) throw new InvalidEventError(`pgpool backend ${id} is not a node of cluster ${deps.cluster}`);
  if (node.role === 'fenced' || node.role === 'removed') {
    return { action: 'ignored', reason: `${node.name} is already ${node.role}` };
  }
  // A workflow detaches a standby it works on (scale in, rejoin, maintenance) after marking it: pgpool
  // waits for this hook before it serves again, so answer at once and record no standby failure.
  if (node.maintenance && node.name !== topo.primary) {
    return { action: 'ignored', reason: `${node.name} is a standby under planned maintenance` };
  }
  const planned = await plannedSwitch(deps, topo, node);
  if (planned) return planned;
  return startFailover(deps, {
    source: 'pgpool',
    reason: `pgpool ${String(event.pgpool ?? '?')} detached backend ${id} (${node.name})`,
    suspect: node.name,
    at: typeof event.at === 'string' && !Number.isNaN(Date.parse(event.at)) ? new Date(event.at) : undefined,
    detail: { pgpool: event.pgpool, failedNodeId: id },
  });
}

/**
 * The detached node is the primary a planned switch is stopping: wait (at most hookSwitchWaitMs, under
 * the hook's own timeout) until the promotion is recorded. If the switch ends without one (aborted, the
 * lease released) or takes longer, the event is handled as a failure report after all.
 */
async function plannedSwitch(deps: Deps, topo: Topology, node: NodeSpec): Promise<TriggerOutcome | undefined> {
  const lease = topo.lease;
  const now = deps.now().getTime();
  if (!lease || Date.parse(lease.expiresAt) <= now) return undefined;
  const ignored = (t: Topology): TriggerOutcome => {
    deps.log(`pgpool detached ${node.name}: planned switch by ${lease.execution}, ${t.primary} promoted`);
    return {
      action: 'ignored',
      reason: `planned switch by ${lease.workflow} ${lease.execution}: ${t.primary} is the primary`,
    };
  };
  // pgpool noticed only after the promotion was recorded.
  if (topo.primary !== node.name) return switchedFrom(topo, node, lease.execution) ? ignored(topo) : undefined;
  // Only a switch that is stopping this very node (its switch step marks the lease before the stop)
  // is waited for: a primary that dies while a switchover is still checking or preparing, or while
  // any other workflow holds the lease, is a failure report at once.
  if (lease.switching?.from !== node.name) return undefined;
  const s = settings();
  const deadline = deps.now().getTime() + s.hookSwitchWaitMs;
  for (;;) {
    await deps.sleep(s.hookPollMs);
    // A failed read (e.g. Parameter Store throttling two pgpools' hooks) is retried until the deadline.
    const cur = await deps.topology.get(deps.cluster).catch((err: unknown) => {
      deps.log(`pgpool hook: reading the topology failed, retrying: ${String(err)}`);
      return undefined;
    });
    if (cur && cur.primary !== node.name && switchedFrom(cur, node, lease.execution)) return ignored(cur);
    if (cur && (cur.lease?.execution !== lease.execution || cur.primary !== node.name)) return undefined;
    if (deps.now().getTime() >= deadline) {
      deps.log(`pgpool detached ${node.name}: no promotion recorded within ${s.hookSwitchWaitMs} ms of the switch`);
      return undefined;
    }
  }
}

/** The topology's history records that this execution switched the primary away from the node. */
function switchedFrom(t: Topology, node: NodeSpec, execution: string): boolean {
  return t.history.some(
    (e) => e.kind === 'switched-over' && e.detail.from === node.name && e.detail.execution === execution,
  );
}

export const handler = lambda(handle);
