/**
 * The app through a failover drill: HTTP write and read traffic while the primary is SIGKILLed and
 * the failover workflow runs. Every write answers 201 (and is in the table afterwards) or 503 with
 * Retry-After; nothing else, nothing that hangs, nothing reported committed that is missing.
 */
import { appUrl } from '../../infra/local/app-process';
import { executions, finishedFailover } from '../../infra/local/drill';
import type { Lab } from '../../infra/local/lab';
import { waitFor } from '../../infra/local/proc';
import { freshLab } from './support/lab';

jest.setTimeout(240_000);

interface Outcome {
  kind: 'write' | 'read';
  status: number | 'no answer';
  retryAfter?: string | null;
  id?: number;
  sentAt: number;
}

/** Clients give up after this: far beyond the app's own bound, so an abort means the app hung. */
const CLIENT_PATIENCE_MS = 15_000;

function startTraffic(url: string, writers: number, readers: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const committed: number[] = [];
  const once = async (kind: 'write' | 'read', i: number): Promise<void> => {
    const sentAt = Date.now();
    try {
      const r =
        kind === 'write'
          ? await fetch(`${url}/api/values`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ value: `failover write ${i}` }),
              signal: AbortSignal.timeout(CLIENT_PATIENCE_MS),
            })
          : await fetch(`${url}/api/values/${committed[Math.floor(Math.random() * committed.length)] ?? 1}`, {
              signal: AbortSignal.timeout(CLIENT_PATIENCE_MS),
            });
      const body = (await r.json()) as { id?: number };
      const o: Outcome = { kind, status: r.status, retryAfter: r.headers.get('retry-after'), sentAt };
      if (kind === 'write' && r.status === 201) {
        o.id = body.id;
        committed.push(body.id!);
      }
      outcomes.push(o);
    } catch {
      outcomes.push({ kind, status: 'no answer', sentAt });
    }
  };
  const loop = async (kind: 'write' | 'read', n: number) => {
    for (let i = 0; running; i++) {
      await once(kind, n * 1_000_000 + i);
      // A client told to retry later does so briefly later (Retry-After is in seconds; shorter here).
      if (outcomes.at(-1)?.status === 503) await new Promise((r) => setTimeout(r, 50));
    }
  };
  const tasks = [
    ...Array.from({ length: writers }, (_, n) => loop('write', n)),
    ...Array.from({ length: readers }, (_, n) => loop('read', n)),
  ];
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(tasks);
    },
  };
}

describe('the app during a failover', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = freshLab(25100);
    await lab.up();
  }, 180_000);
  afterAll(() => lab.down({ purge: true }), 60_000);

  test('SIGKILL of the primary under app traffic: every write is 201 and present afterwards, or 503 with Retry-After; reads never fail otherwise; none hangs', async () => {
    const url = appUrl(lab);
    const oldPrimary = lab.readTopology().primary;
    const known = new Set((await executions(lab)).map((e) => e.name));
    const traffic = startTraffic(url, 4, 2);
    let killAt = 0;
    try {
      await waitFor('app writes to flow', () => traffic.outcomes.filter((o) => o.status === 201).length > 30, 20_000);
      killAt = Date.now();
      lab.kill(oldPrimary);
      const exec = await finishedFailover(lab, known);
      expect(exec.output?.record?.outcome).toBe('failed-over');
      // Writes through the app resume on the new primary.
      await waitFor(
        'app writes committed after the failover',
        () =>
          traffic.outcomes.filter((o) => o.kind === 'write' && o.status === 201 && o.sentAt > Date.now() - 1000)
            .length > 10,
        30_000,
      );
    } finally {
      await traffic.stop();
    }
    const newPrimary = lab.readTopology().primary;
    expect(newPrimary).not.toBe(oldPrimary);

    const writes = traffic.outcomes.filter((o) => o.kind === 'write');
    const reads = traffic.outcomes.filter((o) => o.kind === 'read');
    expect(writes.filter((o) => o.status !== 201 && o.status !== 503)).toEqual([]);
    expect(reads.filter((o) => o.status !== 200 && o.status !== 503)).toEqual([]);
    for (const o of traffic.outcomes.filter((x) => x.status === 503)) expect(o.retryAfter).toMatch(/^\d+$/);
    expect(writes.filter((o) => o.sentAt > killAt && o.status === 201).length).toBeGreaterThan(10);

    // Every write answered 201 is in the table on the new primary.
    const ids = writes.filter((o) => o.status === 201).map((o) => o.id!);
    const c = await lab.client(newPrimary, { user: 'app', database: 'app' });
    try {
      const r = await c.query(
        'select count(*)::int as n from unnest($1::bigint[]) as a(id) where not exists (select 1 from app_values v where v.id = a.id)',
        [ids],
      );
      expect(r.rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
    console.log(
      `app during failover: ${writes.length} writes (${ids.length} committed, ${writes.filter((o) => o.status === 503).length} answered 503), ${reads.length} reads (${reads.filter((o) => o.status === 503).length} answered 503)`,
    );
  });
});
