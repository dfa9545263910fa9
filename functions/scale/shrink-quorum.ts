/** The primary's synchronous quorum over the remaining standbys, before the node leaves. */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { holdLease, setQuorum } from '../planned/common';
import type { ScaleInInput } from './types';

export async function step(state: ScaleInInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-in', state.executionName);
  const remaining = state.precheck?.remaining ?? [];
  return { synchronousStandbyNames: await setQuorum(deps, t, remaining) };
}

export const handler = lambda(step);
