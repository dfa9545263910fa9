/**
 * `pgwarden switchover [--to NODE]` (or StartExecution with the same input): start the switchover
 * workflow. Unknown nodes and a target that is not a standby are refused here, with nothing changed;
 * the workflow's Precheck checks health and lag.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { InvalidEventError } from './common';
import { reasonOf, RefusedError, requireObject, startPlanned } from './planned';

export async function handle(event: unknown, deps: Deps) {
  const e = requireObject(event);
  const reason = reasonOf(e, 'operator switchover');
  if (e.to !== undefined && (typeof e.to !== 'string' || !e.to)) throw new InvalidEventError('to must be a node name');
  if (e.maxLagBytes !== undefined && (typeof e.maxLagBytes !== 'number' || !(e.maxLagBytes >= 0)))
    throw new InvalidEventError('maxLagBytes must be a non-negative number');
  const t = await deps.topology.get(deps.cluster);
  if (typeof e.to === 'string') {
    const n = t.nodes.find((x) => x.name === e.to && x.role !== 'removed');
    if (!n)
      throw new InvalidEventError(
        `unknown node "${e.to}" (nodes: ${t.nodes
          .filter((x) => x.role !== 'removed')
          .map((x) => x.name)
          .join(', ')})`,
      );
    if (n.name === t.primary) throw new RefusedError(`switchover refused: ${n.name} is already the primary`);
    if (n.role !== 'standby') throw new RefusedError(`switchover refused: ${n.name} is ${n.role}, not a standby`);
  }
  return startPlanned(deps, 'switchover', [], {
    reason,
    ...(typeof e.to === 'string' ? { to: e.to } : {}),
    ...(typeof e.maxLagBytes === 'number' ? { maxLagBytes: e.maxLagBytes } : {}),
  });
}

export const handler = lambda(handle);
