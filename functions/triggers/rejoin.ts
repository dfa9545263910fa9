/** `pgwarden rejoin NODE` (or StartExecution): start the rejoin (failback) workflow for a node. */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { InvalidEventError } from './common';
import { reasonOf, RefusedError, requireObject, startPlanned } from './planned';

export async function handle(event: unknown, deps: Deps) {
  const e = requireObject(event);
  const reason = reasonOf(e, 'operator rejoin');
  if (typeof e.node !== 'string' || !e.node) throw new InvalidEventError('node is required');
  if (e.method !== undefined && !['auto', 'rewind', 'basebackup'].includes(e.method as string))
    throw new InvalidEventError('method must be auto, rewind or basebackup');
  const t = await deps.topology.get(deps.cluster);
  const n = t.nodes.find((x) => x.name === e.node);
  if (!n) throw new InvalidEventError(`unknown node "${e.node}" (nodes: ${t.nodes.map((x) => x.name).join(', ')})`);
  if (n.name === t.primary) throw new RefusedError(`rejoin refused: ${n.name} is the primary`);
  if (n.role === 'removed') throw new RefusedError(`rejoin refused: ${n.name} was removed from the cluster`);
  return startPlanned(deps, 'rejoin', [n.name], {
    reason,
    node: n.name,
    ...(e.method ? { method: e.method } : {}),
  });
}

export const handler = lambda(handle);
