/**
 * `pgwarden scale out|in` (or an alarm on read load / lag, or StartExecution): start the scale-out
 * workflow for a provisioned instance (AWS: launched from the node launch template; lab: Lab.addNode)
 * or the scale-in workflow for a standby (default: the most recently added).
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { MAX_DRAIN_SECONDS } from '../scale/drain';
import type { NewNode } from '../scale/types';
import { InvalidEventError, isObject } from './common';
import { reasonOf, RefusedError, requireObject, startPlanned } from './planned';

export async function handle(event: unknown, deps: Deps) {
  const e = requireObject(event);
  const t = await deps.topology.get(deps.cluster);
  if (e.direction === 'out') {
    const n = e.node;
    if (
      !isObject(n) ||
      typeof n.name !== 'string' ||
      typeof n.host !== 'string' ||
      !Number.isInteger(n.port) ||
      !Number.isInteger(n.backendId) ||
      typeof n.instanceId !== 'string'
    )
      throw new InvalidEventError('scale out needs node {name, host, port, backendId, instanceId}');
    if (t.nodes.some((x) => x.role !== 'removed' && (x.name === n.name || x.backendId === n.backendId)))
      throw new RefusedError(
        `scale out refused: node ${n.name} (backend ${String(n.backendId)}) is already in the cluster`,
      );
    return startPlanned(deps, 'scale-out', [n.name], {
      reason: reasonOf(e, 'operator scale out'),
      node: n as unknown as NewNode,
    });
  }
  if (e.direction === 'in') {
    if (e.node !== undefined) {
      const n = t.nodes.find((x) => x.name === e.node && x.role !== 'removed');
      if (!n)
        throw new InvalidEventError(
          `unknown node "${String(e.node)}" (nodes: ${t.nodes
            .filter((x) => x.role !== 'removed')
            .map((x) => x.name)
            .join(', ')})`,
        );
      if (n.name === t.primary) throw new RefusedError(`scale in refused: ${n.name} is the primary`);
    }
    if (
      e.drainSeconds !== undefined &&
      (!Number.isInteger(e.drainSeconds) ||
        (e.drainSeconds as number) < 0 ||
        (e.drainSeconds as number) > MAX_DRAIN_SECONDS)
    )
      throw new InvalidEventError(`drainSeconds must be a whole number from 0 to ${MAX_DRAIN_SECONDS}`);
    return startPlanned(deps, 'scale-in', e.node ? [String(e.node)] : [], {
      reason: reasonOf(e, 'operator scale in'),
      ...(e.node ? { node: e.node } : {}),
      ...(e.drainSeconds !== undefined ? { drainSeconds: e.drainSeconds } : {}),
    });
  }
  throw new InvalidEventError('direction must be "out" or "in"');
}

export const handler = lambda(handle);
