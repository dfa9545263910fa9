/**
 * The application tier on a real lab (PostgreSQL 15 primary + 2 quorum standbys, pgpool-II, Redis,
 * the control plane's X-Ray collector): the app `lab up` started, driven over HTTP as a client would.
 */
import { join } from 'node:path';
import { collectMetrics } from '../../functions/metrics/collect';
import type { MetricDatum, WorkflowStarter } from '../../functions/lib/ports';
import { LabNotifier, MetricStore, labDeps } from '../../infra/local/adapters';
import { appPid, appUrl } from '../../infra/local/app-process';
import type { TraceView } from '../../infra/local/controlplane/xray-collector';
import { labApi } from '../../infra/local/drill';
import type { Lab } from '../../infra/local/lab';
import { isAlive, run, waitFor } from '../../infra/local/proc';
import { readFileSync } from 'node:fs';
import { freshLab } from './support/lab';

jest.setTimeout(120_000);

type Answer = { status: number; body: Record<string, unknown>; headers: Headers };

describe('the app on a lab cluster', () => {
  let lab: Lab;
  let url: string;
  const call = async (
    method: string,
    path: string,
    body?: string,
    contentType = 'application/json',
  ): Promise<Answer> => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': contentType },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers };
  };
  const post = (value: unknown) => call('POST', '/api/values', JSON.stringify({ value }));
  /** A query on the primary, in the app's database. */
  const onPrimary = async (sql: string, params: unknown[] = []) => {
    const c = await lab.client(lab.readTopology().primary, { user: 'app', database: 'app' });
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  const rows = async () => Number((await onPrimary('select count(*) as n from app_values'))[0].n);
  const redisCli = (...args: string[]) =>
    run(
      'redis-cli',
      ['-p', String(lab.config().redisPort), '--no-auth-warning', '-a', lab.secrets().PGW_PW_REDIS, ...args],
      {
        timeoutMs: 3000,
      },
    );

  beforeAll(async () => {
    lab = freshLab(25000);
    await lab.up();
    url = appUrl(lab);
  }, 180_000);
  afterAll(() => lab.down({ purge: true }), 60_000);

  test('a write commits through pgpool and reads back; the cache is filled on a miss and the next read is a hit', async () => {
    const w = await post('first value');
    expect(w.status).toBe(201);
    expect(w.body).toEqual({ id: expect.any(Number), value: 'first value', committedAt: expect.any(String) });
    const id = w.body.id as number;
    // The row is on the primary, committed.
    const [row] = await onPrimary('select value from app_values where id = $1', [id]);
    expect(row.value).toBe('first value');
    // Written to the cache on insert.
    expect((await call('GET', `/api/values/${id}`)).body).toMatchObject({ id, value: 'first value', cached: true });
    // Evicted: the first read is a miss served by PostgreSQL, which fills the cache for the second.
    expect((await redisCli('DEL', `pgwarden:value:${id}`)).stdout.trim()).toBe('1');
    const miss = await call('GET', `/api/values/${id}`);
    expect(miss.status).toBe(200);
    expect(miss.body).toMatchObject({ id, value: 'first value', cached: false });
    const hit = await call('GET', `/api/values/${id}`);
    expect(hit.body).toMatchObject({ id, value: 'first value', cached: true });
    const ttl = Number((await redisCli('TTL', `pgwarden:value:${id}`)).stdout.trim());
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  test('GET of an unknown id is 404, a non-numeric id is 400', async () => {
    expect((await call('GET', '/api/values/987654321')).status).toBe(404);
    const bad = await call('GET', '/api/values/abc');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/id must be a positive integer/);
    expect((await call('GET', '/api/values/-3')).status).toBe(400);
  });

  test.each([
    ['missing field', '{}', 'application/json', /"value" is missing/],
    ['wrong type', '{"value": 42}', 'application/json', /must be a string, got number/],
    ['null', '{"value": null}', 'application/json', /must be a string, got null/],
    ['empty string', '{"value": ""}', 'application/json', /is empty/],
    ['too long', JSON.stringify({ value: 'x'.repeat(1025) }), 'application/json', /1025 characters, at most 1024/],
    ['not JSON', '{"value": "a"', 'application/json', /not valid JSON/],
    ['not an object', '["a"]', 'application/json', /must be a JSON object/],
    ['unknown field', '{"value": "a", "extra": 1}', 'application/json', /unknown field "extra"/],
    ['wrong content type', '{"value": "a"}', 'text/plain', /content type must be application\/json/],
    ['NUL character', '{"value": "a\\u0000b"}', 'application/json', /NUL/],
  ])('a bad body (%s) is 400 naming the problem, and nothing is written', async (_kind, body, type, problem) => {
    const before = await rows();
    const r = await call('POST', '/api/values', body, type);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(problem);
    expect(await rows()).toBe(before);
  });

  test('1024 characters (counted as characters, not bytes) are accepted', async () => {
    const r = await post('é'.repeat(1024));
    expect(r.status).toBe(201);
  });

  test('Redis stopped: reads are served by PostgreSQL (cached:false) with no 5xx, writes still commit; Redis back: hits again', async () => {
    const w = await post('through an outage');
    const id = w.body.id as number;
    expect((await call('GET', `/api/values/${id}`)).body.cached).toBe(true);
    await lab.redisStop();
    expect(await lab.redisPing()).toBe(false);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await call('GET', `/api/values/${id}`);
      statuses.push(r.status);
      expect(r.body).toMatchObject({ id, value: 'through an outage', cached: false });
    }
    const w2 = await post('written while Redis is down');
    statuses.push(w2.status);
    expect(statuses.every((s) => s === 200 || s === 201)).toBe(true);
    expect(w2.status).toBe(201);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ database: true, cache: false });

    await lab.redisStart();
    // The app reconnects by itself: a read misses (and fills the cache) until the connection is
    // back, then the next read is a hit.
    await waitFor(
      'a cache hit after Redis came back',
      async () => {
        const r = await call('GET', `/api/values/${w2.body.id}`);
        expect(r.status).toBe(200);
        return r.body.cached === true;
      },
      20_000,
      200,
    );
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  test('one request yields one trace in the collector: the HTTP segment, then Redis, PostgreSQL, Redis subsegments in order', async () => {
    const w = await post('traced');
    const id = w.body.id as number;
    await redisCli('DEL', `pgwarden:value:${id}`);
    const r = await call('GET', `/api/values/${id}`);
    expect(r.body.cached).toBe(false);
    const traceId = /Root=([^;]+)/.exec(r.headers.get('x-amzn-trace-id') ?? '')?.[1];
    expect(traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    const t = await waitFor(
      'the trace in the collector',
      () => labApi<TraceView>(lab, 'GET', `/v1/traces/${traceId}`).catch(() => undefined),
      10_000,
      50,
    );
    expect(t.method).toBe('GET');
    expect(t.url).toContain(`/api/values/${id}`);
    expect(t.status).toBe(200);
    expect(t.spans.map((s) => [s.depth, s.name])).toEqual([
      [0, 'pgwarden-app'],
      [1, 'redis'],
      [1, 'postgresql'],
      [1, 'redis'],
    ]);
    const sql = t.spans.find((s) => s.name === 'postgresql')!.sql!;
    expect(sql).toContain('from app_values where id = $1');
    expect(sql).not.toContain(String(id)); // the parameter's value is never captured
    // Each request is a trace of its own.
    const list = await labApi<{ traces: TraceView[] }>(lab, 'GET', '/v1/traces?limit=500');
    expect(list.traces.filter((x) => x.id === traceId)).toHaveLength(1);
    expect(
      list.traces.some((x) => x.method === 'POST' && x.spans.some((s) => s.sql?.startsWith('insert into app_values'))),
    ).toBe(true);
  });

  test('TransactionsLast10Min rises by N after N writes through the app', async () => {
    const workflows: WorkflowStarter = { start: async () => Promise.reject(new Error('not here')) };
    const deps = labDeps(lab, workflows, new MetricStore(), new LabNotifier(join(lab.dir, 'notifications-test.jsonl')));
    const metric = (d: MetricDatum[]) =>
      d.find((x) => x.name === 'TransactionsLast10Min' && Object.keys(x.dimensions ?? {}).join() === 'Cluster')?.value;
    const before = metric(await collectMetrics(deps));
    const N = 7;
    for (let i = 0; i < N; i++) expect((await post(`counted ${i}`)).status).toBe(201);
    expect(metric(await collectMetrics(deps))).toBe(before! + N);
  });

  test('healthz answers while the process lives; readyz checks the database and the cache', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await call('GET', '/readyz')).body).toEqual({ ready: true, database: true, cache: true });
  });

  // Last: it ends the app process.
  test('SIGTERM: the app stops accepting, finishes the request in flight, then exits', async () => {
    const pid = appPid(lab)!;
    const cp = Number(readFileSync(join(lab.controlDir, 'controlplane.pid'), 'utf8'));
    // A request that cannot finish yet: the dashboard's status comes from the control plane, frozen.
    process.kill(cp, 'SIGSTOP');
    try {
      const inFlight = fetch(`${url}/dashboard/api/status`);
      // The app has the request once it holds a connection to the control plane's port.
      await waitFor(
        'the app to ask the control plane',
        async () =>
          (await run('ss', ['-Htnp', 'state', 'established', `dport = :${lab.config().apiPort}`])).stdout.includes(
            `pid=${pid},`,
          ),
        10_000,
      );
      process.kill(pid, 'SIGTERM');
      await waitFor(
        'the app to stop accepting',
        () =>
          fetch(`${url}/healthz`).then(
            () => false,
            () => true,
          ),
        5000,
      );
      expect(isAlive(pid)).toBe(true);
      process.kill(cp, 'SIGCONT');
      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(((await r.json()) as { nodes: unknown[] }).nodes).toHaveLength(3);
      await waitFor('the app to exit', () => !isAlive(pid), 10_000);
    } finally {
      process.kill(cp, 'SIGCONT');
    }
  });
});
