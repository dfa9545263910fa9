/**
 * pgpool-II's failover_command -> failover: the fast-path sensor. pgpool reports which backend it
 * detached (the hook script turns %d %h %p ... into JSON). pgpool never promotes: if the detached
 * node is the primary, the workflow decides; if it is a standby, the workflow records a standby
 * failure and promotes nothing.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
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
  return startFailover(deps, {
    source: 'pgpool',
    reason: `pgpool ${String(event.pgpool ?? '?')} detached backend ${id} (${node.name})`,
    suspect: node.name,
    at: typeof event.at === 'string' && !Number.isNaN(Date.parse(event.at)) ? new Date(event.at) : undefined,
    detail: { pgpool: event.pgpool, failedNodeId: id },
  });
}

export const handler = lambda(handle);
