/**
 * Scale-in precheck: refuse unless the standby can go with the quorum kept valid: not paused, no
 * other workflow (the lease is taken here), a standby (never the primary), and enough standbys left
 * for the synchronous quorum.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { holdLease, live, refuse, validatePlanned } from '../planned/common';
import type { ScaleInInput } from './types';

export async function step(state: ScaleInInput, deps: Deps) {
  validatePlanned(state, deps);
  const t = await holdLease(deps, 'scale-in', state.executionName, 'take');
  const standbys = live(t).filter((n) => n.role === 'standby' && n.name !== t.primary);
  const name = state.node ?? [...standbys].sort((a, b) => b.backendId - a.backendId)[0]?.name;
  const n = t.nodes.find((x) => x.name === name);
  if (!n)
    refuse(
      `unknown node "${name}" (nodes: ${live(t)
        .map((x) => x.name)
        .join(', ')})`,
    );
  if (n.name === t.primary) refuse(`${n.name} is the primary: switch over first`);
  if (n.role !== 'standby') refuse(`${n.name} is ${n.role}, not a standby`);
  const remaining = standbys.filter((x) => x.name !== n.name).map((x) => x.name);
  if (remaining.length < Math.max(1, t.syncQuorum))
    refuse(`removing ${n.name} would leave ${remaining.length} standby(s) for a quorum of ${t.syncQuorum}`);
  return { node: n.name, remaining };
}

export const handler = lambda(step);
