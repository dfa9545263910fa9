/**
 * Verify from the clients' side: a committed write through every pgpool, and every standby of the
 * topology streaming from the new primary.
 */
import { withClient } from '../lib/db';
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { live, replicas } from './common';

export async function verifyCluster(deps: Deps, executionName: string) {
  const t = await deps.topology.get(deps.cluster);
  const s = settings();
  const creds = await deps.secrets.admin();
  const deadline = Date.now() + s.verifyTimeoutMs;
  const writes: Record<string, number> = {};
  for (const p of t.pgpools) {
    for (let attempt = 1; ; attempt++) {
      try {
        await withClient(
          p,
          creds,
          s.probeTimeoutMs,
          async (c) => {
            await c.query(
              'create table if not exists pgwarden_heartbeat (source text primary key, at timestamptz not null, execution text)',
            );
            await c.query(
              'insert into pgwarden_heartbeat values ($1, now(), $2) on conflict (source) do update set at = excluded.at, execution = excluded.execution',
              [`verify:${p.name}`, executionName],
            );
          },
          'postgres',
        );
        writes[p.name] = attempt;
        break;
      } catch (e) {
        if (Date.now() > deadline)
          throw new Error(`no committed write through ${p.name}: ${(e as Error).message}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
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
