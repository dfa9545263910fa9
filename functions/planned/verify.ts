/**
 * Verify from the clients' side, the last step of every planned workflow: a committed write through
 * every pgpool, and every standby of the topology streaming from the primary.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { writeThroughEveryPgpool } from '../lib/verify-write';
import { live, replicas } from './common';

export async function verifyCluster(deps: Deps, executionName: string) {
  const t = await deps.topology.get(deps.cluster);
  const s = settings();
  const deadline = Date.now() + s.verifyTimeoutMs;
  const writes = await writeThroughEveryPgpool(deps, t, executionName, deadline);
  const expected = live(t)
    .filter((n) => n.role === 'standby')
    .map((n) => n.name);
  let streaming: string[] = [];
  for (;;) {
    streaming = (await replicas(deps, t).catch(() => []))
      .filter((r) => r.state === 'streaming')
      .map((r) => r.name)
      .sort();
    const missing = expected.filter((n) => !streaming.includes(n));
    if (!missing.length) break;
    if (Date.now() > deadline) throw new Error(`not streaming from ${t.primary}: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { primary: t.primary, timeline: t.timeline, writes, streaming };
}

export async function step(state: { executionName: string }, deps: Deps) {
  return verifyCluster(deps, state.executionName);
}

export const handler = lambda(step);
