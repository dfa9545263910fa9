/**
 * Restore the synchronous quorum on the primary: synchronous_standby_names = 'ANY q (every standby)'
 * with ALTER SYSTEM and a reload (rejoin and scale-out).
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { live, setQuorum } from './common';

export async function step(_state: unknown, deps: Deps) {
  const t = await deps.topology.get(deps.cluster);
  const standbys = live(t)
    .filter((n) => n.role === 'standby' && n.name !== t.primary)
    .map((n) => n.name);
  const names = await setQuorum(deps, t, standbys);
  return { primary: t.primary, synchronousStandbyNames: names };
}

export const handler = lambda(step);
