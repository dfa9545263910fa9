/**
 * Warmed SQL sessions (functions/lib/session-cache.ts) against a real PostgreSQL 15: the step uses the
 * session its warm-up opened instead of connecting, a session the server closed is replaced by a new
 * connection (once), an SQL error is not retried, old or foreign sessions are never handed out, and
 * sessions nobody takes are closed.
 */
import type { Client } from 'pg';
import { probeNode } from '../../functions/lib/db';
import type { DbCredentials } from '../../functions/lib/ports';
import { SessionCache } from '../../functions/lib/session-cache';
import { waitFor } from '../../infra/local/proc';
import { testPortBase } from './support/lab';
import { ScratchPg } from './support/scratch-pg';

jest.setTimeout(60_000);

const creds: DbCredentials = { user: 'postgres', password: 'unused-with-trust', database: 'postgres' };
let pg: ScratchPg;
let admin: Client;
const ep = () => ({ host: '127.0.0.1', port: pg.port });
const pidOf = async (c: Client) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
/** Backends of the code under test (application_name pgwarden, as db.ts sets it). */
const sessionsOpen = async () =>
  Number(
    (
      await admin.query<{ n: string }>(
        "select count(*) as n from pg_stat_activity where application_name = 'pgwarden' and pid <> pg_backend_pid()",
      )
    ).rows[0].n,
  );
const pgwardenPids = async () =>
  (await admin.query<{ pid: number }>("select pid from pg_stat_activity where application_name = 'pgwarden'")).rows.map(
    (r) => r.pid,
  );

beforeAll(async () => {
  pg = await ScratchPg.start({ port: testPortBase(28100) });
  admin = await pg.client('session-cache-test');
});
afterAll(async () => {
  await admin?.end();
  await pg?.destroy();
});
afterEach(async () => {
  await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'pgwarden'");
  await waitFor('no pgwarden session left', async () => ((await sessionsOpen()) === 0 ? true : undefined), 10_000, 20);
});

test('the step runs over the session its warm-up opened: no connection of its own', async () => {
  const cache = new SessionCache();
  expect(await cache.warm([ep()], creds, 5000, 'postgres')).toBe(1);
  const warmed = await pgwardenPids();
  expect(warmed).toHaveLength(1);
  const pid = await cache.run(ep(), creds, 5000, pidOf, 'postgres');
  expect(pid).toBe(warmed[0]);
  expect(cache.taken).toBe(1);
  // Used once: the next call connects.
  const again = await cache.run(ep(), creds, 5000, pidOf, 'postgres');
  expect(again).not.toBe(pid);
  expect(cache.taken).toBe(1);
  // probeNode through the cache's runner reads the node over a warmed session too.
  await cache.warm([ep()], creds, 5000, 'postgres');
  const probe = await probeNode(ep(), creds, 5000, cache.run);
  expect(probe).toMatchObject({ reachable: true, inRecovery: false });
  expect(cache.taken).toBe(2);
});

test('a warmed session the server closed while idle: the step gets a new connection', async () => {
  const cache = new SessionCache();
  await cache.warm([ep()], creds, 5000, 'postgres');
  const [warmed] = await pgwardenPids();
  await admin.query('select pg_terminate_backend($1)', [warmed]);
  const pid = await cache.run(ep(), creds, 5000, pidOf, 'postgres');
  expect(pid).not.toBe(warmed);
});

test('a warmed session the server ends while the step uses it: the step runs once more on a new connection', async () => {
  const cache = new SessionCache();
  await cache.warm([ep()], creds, 5000, 'postgres');
  const [warmed] = await pgwardenPids();
  const runs: number[] = [];
  const pid = await cache.run(
    ep(),
    creds,
    5000,
    async (c) => {
      const me = await pidOf(c);
      runs.push(me);
      // The first run's session is terminated under it (as a node restart would).
      if (runs.length === 1) await c.query('select pg_terminate_backend(pg_backend_pid())');
      return me;
    },
    'postgres',
  );
  expect(runs[0]).toBe(warmed);
  expect(runs).toHaveLength(2);
  expect(pid).toBe(runs[1]);
  expect(pid).not.toBe(warmed);
});

test('an SQL error on a warmed session is the step`s error: not run again', async () => {
  const cache = new SessionCache();
  await cache.warm([ep()], creds, 5000, 'postgres');
  let runs = 0;
  await expect(
    cache.run(
      ep(),
      creds,
      5000,
      async (c) => {
        runs++;
        return c.query('select 1/0');
      },
      'postgres',
    ),
  ).rejects.toThrow(/division by zero/);
  expect(runs).toBe(1);
});

test('sessions older than their age, or opened with another password or database, are never handed out', async () => {
  let now = 1_000_000;
  const cache = new SessionCache(30_000, () => now);
  await cache.warm([ep()], creds, 5000, 'postgres');
  expect(cache.take(ep(), { ...creds, password: 'rotated' }, 'postgres')).toBeUndefined();
  await cache.warm([ep()], creds, 5000, 'postgres');
  expect(cache.take(ep(), creds, 'template1')).toBeUndefined();
  now += 30_001;
  expect(cache.take(ep(), creds, 'postgres')).toBeUndefined();
  expect(cache.taken).toBe(0);
  // Each refused session was closed, not left open on the server.
  await waitFor('refused sessions closed', async () => ((await sessionsOpen()) === 0 ? true : undefined), 10_000, 20);
});

test('closeAll ends the sessions nobody took; an endpoint that does not answer is left out of the warm-up', async () => {
  const cache = new SessionCache();
  const dead = { host: '127.0.0.1', port: testPortBase(28100) + 1 };
  expect(await cache.warm([ep(), dead], creds, 2000, 'postgres')).toBe(1);
  expect(await sessionsOpen()).toBe(1);
  expect(cache.size).toBe(1);
  cache.closeAll();
  expect(cache.size).toBe(0);
  await waitFor('idle sessions closed', async () => ((await sessionsOpen()) === 0 ? true : undefined), 10_000, 20);
});

test('sessions nobody takes are closed after their age', async () => {
  const cache = new SessionCache(300);
  await cache.warm([ep()], creds, 5000, 'postgres');
  expect(await sessionsOpen()).toBe(1);
  await waitFor('sessions closed by age', async () => ((await sessionsOpen()) === 0 ? true : undefined), 10_000, 20);
  expect(cache.size).toBe(0);
});
