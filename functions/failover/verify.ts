/**
 * Verify from the clients' side: a committed write through every pgpool endpoint, and the new
 * primary's synchronous standbys streaming. Retries with a deadline; a failure here fails the
 * workflow loudly (the notify state) rather than reporting success.
 */
import { withClient } from '../lib/db';
import { lambda } from '../lib/handler';
import { renewLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { writeThroughEveryPgpool } from '../lib/verify-write';
import { nodeByName } from '../lib/topology';
import { requireState, type FailoverState } from './types';

export async function step(state: FailoverState, deps: Deps) {
  const promote = requireState(state.promote, 'promote');
  const t = await renewLease(deps, 'failover', state.executionName, { primary: promote.node, ignorePause: true });
  const s = settings();
  const creds = await deps.secrets.admin();
  const deadline = Date.now() + s.verifyTimeoutMs;
  const writes = await writeThroughEveryPgpool(deps, t, state.executionName, deadline);
  // The repointed standbys stream from the new primary (or the cluster is reported degraded).
  const primary = nodeByName(t, promote.node);
  const expected = state.repoint?.following ?? [];
  let rep: { application_name: string; sync_state: string }[] = [];
  for (;;) {
    rep = await withClient(
      primary,
      creds,
      s.probeTimeoutMs,
      async (c) =>
        (await c.query("select application_name, sync_state from pg_stat_replication where state = 'streaming'")).rows,
      'postgres',
    ).catch(() => []);
    if (expected.every((n) => rep.some((r) => r.application_name === n)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const streaming = rep.map((r) => r.application_name).sort();
  const missing = expected.filter((n) => !streaming.includes(n));
  return {
    writes,
    streaming,
    synchronous: rep.filter((r) => r.sync_state === 'quorum' || r.sync_state === 'sync').length,
    degraded: missing.length ? `not streaming from ${promote.node}: ${missing.join(', ')}` : undefined,
  };
}

export const handler = lambda(step);
