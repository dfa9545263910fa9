/**
 * Start a fresh standby: its replication slot on the primary, pg_basebackup (-X stream, through the
 * slot), its node configuration, standby settings, start, streaming (rejoin.sh METHOD=basebackup). A
 * basebackup of a large database may run far longer than a Lambda may, so this step only starts it,
 * under a deadline of CLONE_TIMEOUT_MS; CloneStandby (clone-standby.ts) waits for it. A retried start
 * finds the command this execution already started instead of starting a second basebackup.
 */
import { lambda } from '../lib/handler';
import { startLongCommand } from '../lib/long-command';
import type { Deps } from '../lib/ports';
import { holdLease, primaryOf } from '../planned/common';
import type { ScaleOutInput } from './types';

/** How long the basebackup may take, from its first start to its end (the workflow's TimeoutSeconds is 7200). */
export const CLONE_TIMEOUT_MS = 3_600_000;

export async function step(state: ScaleOutInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-out', state.executionName);
  const primary = primaryOf(t);
  return startLongCommand(
    deps,
    state.node,
    'rejoin',
    { PRIMARY_HOST: primary.host, PRIMARY_PORT: String(primary.port), METHOD: 'basebackup', WAIT_SECONDS: '300' },
    { timeoutMs: CLONE_TIMEOUT_MS, requestId: `${state.executionName}:clone:${state.node.name}` },
  );
}

export const handler = lambda(step);
