/**
 * Verify from the clients' side, the last step of every planned workflow: a committed write through
 * every pgpool, and every standby of the topology streaming from the primary.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { waitStreaming, writeThroughEveryPgpool } from '../lib/verify-write';
import { live, primaryOf } from './common';

export async function verifyCluster(deps: Deps, executionName: string) {
  const t = await deps.topology.get(deps.cluster);
  const s = settings();
  const deadline = deps.now().getTime() + s.verifyTimeoutMs;
  const writes = await writeThroughEveryPgpool(deps, t, executionName, deadline);
  const expected = live(t)
    .filter((n) => n.role === 'standby')
    .map((n) => n.name);
  const streaming = (await waitStreaming(deps, primaryOf(t), expected, deadline, 100)).map((r) => r.name).sort();
  const missing = expected.filter((n) => !streaming.includes(n));
  if (missing.length) throw new Error(`not streaming from ${t.primary}: ${missing.join(', ')}`);
  return { primary: t.primary, timeline: t.timeline, writes, streaming };
}

export async function step(state: { executionName: string }, deps: Deps) {
  return verifyCluster(deps, state.executionName);
}

export const handler = lambda(step);
