/** Every pgpool routes writes to the new primary (the old one detached wherever it was still attached). */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { routeWritesTo } from '../planned/pgpool';
import { need, type SwitchoverState } from './types';

export async function step(state: SwitchoverState, deps: Deps) {
  const sw = need(state.switch, 'switch');
  const t = await deps.topology.get(state.cluster);
  const primary = nodeByName(t, sw.newPrimary);
  const old = nodeByName(t, sw.oldPrimary);
  const out = await Promise.all(
    t.pgpools.map(async (p) => [p.name, await routeWritesTo(deps, p, primary, old)] as const),
  );
  return Object.fromEntries(out);
}

export const handler = lambda(step);
