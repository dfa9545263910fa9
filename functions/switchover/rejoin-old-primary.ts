/**
 * The old primary, cleanly stopped, restarts as a streaming standby of the new primary without a
 * rewind (rejoin METHOD=standby: standby settings, its slot, start), then is attached again in every
 * pgpool to serve reads.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { holdLease, nodeAction } from '../planned/common';
import { inEveryPgpool } from '../planned/pgpool';
import { need, type SwitchoverState } from './types';

export async function step(state: SwitchoverState, deps: Deps) {
  const sw = need(state.switch, 'switch');
  const t = await holdLease(deps, state.workflow ?? 'switchover', state.executionName);
  const old = nodeByName(t, sw.oldPrimary);
  const primary = nodeByName(t, sw.newPrimary);
  const t0 = deps.now().getTime();
  const r = await nodeAction(
    deps,
    old,
    'rejoin',
    { PRIMARY_HOST: primary.host, PRIMARY_PORT: String(primary.port), METHOD: 'standby', WAIT_SECONDS: '60' },
    120_000,
  );
  const streamingMs = deps.now().getTime() - t0;
  const pgpools = await inEveryPgpool(deps, t, 'pgpool-attach', old);
  return { node: old.name, method: r.method, streamingMs, pgpools };
}

export const handler = lambda(step);
