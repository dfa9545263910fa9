/** Wait until the node streams from the primary with a small replay lag (rejoin and scale-out). */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeName, waitCaughtUp } from './common';

const MAX_LAG_BYTES = 1024 * 1024;

export async function step(state: { node?: string | { name: string } }, deps: Deps) {
  return waitCaughtUp(deps, nodeName(state), MAX_LAG_BYTES, 600_000);
}

export const handler = lambda(step);
