/**
 * A fresh standby: its replication slot on the primary, pg_basebackup (-X stream, through the slot),
 * its node configuration, standby settings, start, streaming (rejoin.sh METHOD=basebackup).
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { holdLease, nodeAction, primaryOf } from '../switchover/common';
import type { ScaleOutInput } from './types';

export async function step(state: ScaleOutInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-out', state.executionName);
  const primary = primaryOf(t);
  const t0 = Date.now();
  const r = await nodeAction(
    deps,
    state.node,
    'rejoin',
    { PRIMARY_HOST: primary.host, PRIMARY_PORT: String(primary.port), METHOD: 'basebackup', WAIT_SECONDS: '300' },
    3_600_000,
  );
  return { method: r.method, durationMs: Date.now() - t0 };
}

export const handler = lambda(step);
