/**
 * Verify from the clients' side: a committed write through every pgpool endpoint, and the new
 * primary's synchronous standbys streaming. Retries with a deadline; a failure here fails the
 * workflow loudly (the notify state) rather than reporting success.
 */
import { lambda } from '../lib/handler';
import { renewLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { waitStreaming, writeThroughEveryPgpool } from '../lib/verify-write';
import { nodeByName } from '../lib/topology';
import { requireState, type FailoverState } from './types';

export async function step(state: FailoverState, deps: Deps) {
  const promote = requireState(state.promote, 'promote');
  const t = await renewLease(deps, 'failover', state.executionName, { primary: promote.node, ignorePause: true });
  const s = settings();
  const deadline = deps.now().getTime() + s.verifyTimeoutMs;
  // The repointed standbys stream from the new primary (or the cluster is reported degraded).
  const primary = nodeByName(t, promote.node);
  const expected = state.repoint?.following ?? [];
  const rep = await waitStreaming(deps, primary, expected, deadline, 50);
  const streaming = rep.map((r) => r.name).sort();
  const missing = expected.filter((n) => !streaming.includes(n));
  // Strict synchronous mode with too few of the synchronous set streaming: a commit waits (by design)
  // until one comes back, so no write can be verified now; say so instead of failing the failover.
  const rec = t.sync?.primary === promote.node ? t.sync : undefined;
  const members = rec ? rec.standbys.filter((n) => streaming.includes(n)) : [];
  const waiting =
    rec && rec.quorum > members.length
      ? `strict synchronous mode: commits wait until ${rec.quorum} of ${rec.standbys.join(', ')} stream${members.length ? ` (streaming: ${members.join(', ')})` : ''}`
      : undefined;
  const writes = waiting ? {} : await writeThroughEveryPgpool(deps, t, state.executionName, deadline);
  return {
    writes,
    streaming,
    synchronous: rep.filter((r) => r.syncState === 'quorum' || r.syncState === 'sync').length,
    degraded: missing.length ? `not streaming from ${promote.node}: ${missing.join(', ')}` : undefined,
    ...(waiting ? { writesWait: waiting } : {}),
  };
}

export const handler = lambda(step);
