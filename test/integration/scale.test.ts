/**
 * Elastic read capacity on a real lab cluster: scale out under a read load (the new standby serves
 * SELECTs through pgpool once caught up), scale in under a read load (the standby is drained before it
 * is detached: no session cut for it, no client error)
 * and no orphaned slot, and both started by the read-load alarms
 * (as EventBridge delivers them) within the configured bounds.
 */
import { testPortBase } from './support/lab';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { ALARMS, alarmName } from '../../functions/lib/alarms';
import { alarmEvent } from '../../infra/local/controlplane/events';
import { executionEnded, labApi } from '../../infra/local/drill';
import { Lab } from '../../infra/local/lab';
import { waitFor } from '../../infra/local/proc';

const lab = new Lab({ dir: mkdtempSync(join(tmpdir(), 'pgw-')), portBase: testPortBase(26400), log: () => undefined });

/**
 * The read load: `readers` clients through pgpool, each in a loop opening a session, running
 * `queriesPerSession` short SELECTs in it and closing it, as a web request with its own connection
 * (1 query) or a short unit of work (several) would; a session never outlives a few queries.
 */
function startReadLoad(readers = 3, queriesPerSession = 1) {
  let running = true;
  const stats = { ok: 0, errors: [] as string[] };
  const conn = lab.connectionString('pgpool', 'app', 'app');
  const reader = async () => {
    while (running) {
      const c = new Client({ connectionString: conn, connectionTimeoutMillis: 5000, query_timeout: 5000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        for (let i = 0; i < queriesPerSession; i++) {
          await c.query('select count(*) from scale_test');
          stats.ok++;
        }
      } catch (e) {
        const detail = (e as { detail?: string }).detail;
        stats.errors.push(`${new Date().toISOString()} ${(e as Error).message}${detail ? ` (${detail})` : ''}`);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
  };
  const tasks = Array.from({ length: readers }, reader);
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(tasks);
    },
  };
}

async function selectCount(node: string): Promise<number> {
  const rows = await lab.query<Record<string, string>>('pgpool1', 'SHOW POOL_NODES');
  return Number(rows.find((r) => Number(r.port) === lab.node(node).port)?.select_cnt ?? 0);
}

beforeAll(async () => {
  await lab.up();
  const c = await lab.client('pgpool', { user: 'app', database: 'app', timeoutMs: 10_000 });
  await c.query('create table scale_test as select g from generate_series(1, 1000) g');
  await c.end();
}, 120_000);

afterAll(async () => {
  await lab.down({ purge: true });
}, 60_000);

test('scale out under read load: the new standby serves SELECTs through pgpool once caught up', async () => {
  // Start from a cluster every pgpool sees whole (the lab's readiness check).
  await lab.waitReady(30_000);
  const load = startReadLoad();
  let exec: { status: string; input: { node: { name: string } } };
  try {
    await waitFor('the read load', () => load.stats.ok > 20 || load.stats.errors[0], 10_000);
    expect(load.stats.errors).toEqual([]);
    exec = (await labApi<{ execution: typeof exec }>(lab, 'POST', '/v1/scale', { direction: 'out', wait: true }))
      .execution;
    expect(exec.status).toBe('SUCCEEDED');
    const name = exec.input.node.name;
    lab.reloadConfig();
    expect(lab.readTopology().nodes.find((n) => n.name === name)).toMatchObject({ role: 'standby' });
    await waitFor(
      'the new standby to serve SELECTs through pgpool',
      async () => (await selectCount(name)) > 0,
      30_000,
      200,
    );
  } finally {
    await load.stop();
  }
  const s = await lab.status();
  expect(s.nodes.find((n) => n.name === exec.input.node.name)).toMatchObject({ role: 'standby', streaming: true });
  const [sync] = await lab.query<{ synchronous_standby_names: string }>(
    lab.readTopology().primary,
    'show synchronous_standby_names',
  );
  expect(sync.synchronous_standby_names).toContain(exec.input.node.name);
}, 240_000);

test('scale in under read load: drained before it is detached, no session cut for it, no orphaned slot, quorum valid', async () => {
  await lab.waitReady(30_000);
  const t0 = lab.readTopology();
  const newest = t0.nodes.filter((n) => n.role === 'standby').sort((a, b) => b.backendId - a.backendId)[0].name;
  // Two readers with a session per query, two with sessions of five queries.
  const loads = [startReadLoad(2, 1), startReadLoad(2, 5)];
  const ok = () => loads.reduce((n, l) => n + l.stats.ok, 0);
  const errors = () => loads.flatMap((l) => l.stats.errors);
  let exec: {
    status: string;
    steps: unknown[];
    output?: { drain?: { drained: boolean; sessionsLeft: unknown[] }; pgpools?: { sessionsCut: number } };
  };
  try {
    // The leaving standby serves this load's reads until it is drained.
    const served = await selectCount(newest);
    await waitFor(
      'the leaving standby to serve the read load',
      async () => (await selectCount(newest)) > served + 20 || errors()[0],
      20_000,
      100,
    );
    expect(errors()).toEqual([]);
    exec = (await labApi<{ execution: typeof exec }>(lab, 'POST', '/v1/scale', { direction: 'in', wait: true }))
      .execution;
    const after = ok();
    await waitFor('reads after the scale-in', () => ok() > after + 20, 10_000);
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
  expect(exec).toMatchObject({ status: 'SUCCEEDED' });
  // Drained before it was detached: every session that could read from it had ended, and pgpool cut
  // none for it (it restarts the children whose session's load-balance node is the detached one).
  expect(exec.output?.drain).toMatchObject({ drained: true, sessionsLeft: [] });
  expect(exec.output?.pgpools).toMatchObject({ sessionsCut: 0 });
  const log = readFileSync(join(lab.pgpoolDir('pgpool1'), 'log', 'pgpool.log'), 'utf8');
  expect(log).not.toMatch(
    new RegExp(`needs to restart because pool \\d+ uses backend ${lab.node(newest).backendId}\\b`),
  );
  // No client error: pgpool-II 4.5+ makes a statement wait while it processes the detach (4.3 ended
  // the session of every client that ran one then).
  console.log(`scale in under read load: ${ok()} reads, ${errors().length} client errors`);
  // On a failure, what pgpool said about it (and when the steps ran) comes with the message.
  const why = errors().length
    ? {
        pgpool: log.split('\n').filter((l) => /FATAL|ERROR|Starting degeneration|Failover done/.test(l)),
        steps: exec.steps,
      }
    : undefined;
  expect({ errors: errors(), why }).toEqual({ errors: [], why: undefined });
  // The detach was the workflow's own: pgpool's failover_command returned at once, reporting nothing.
  const hookLog = readFileSync(join(lab.pgpoolDir('pgpool1'), 'log', 'failover-hook.log'), 'utf8');
  expect(hookLog).toContain(`planned detach of backend ${lab.node(newest).backendId}, not reported`);
  expect(hookLog).not.toContain('failover_command:');
  expect(lab.readTopology().nodes.find((n) => n.name === newest)?.role ?? 'removed').toBe('removed');
  for (const n of lab.readTopology().nodes.filter((x) => x.role === 'primary' || x.role === 'standby')) {
    const slots = await lab.query<{ slot_name: string }>(n.name, 'select slot_name from pg_replication_slots');
    expect({ node: n.name, slots: slots.map((x) => x.slot_name) }).not.toEqual(
      expect.objectContaining({ slots: expect.arrayContaining([`pgw_${newest}`]) }),
    );
  }
  const [sync] = await lab.query<{ synchronous_standby_names: string }>(
    lab.readTopology().primary,
    'show synchronous_standby_names',
  );
  expect(sync.synchronous_standby_names).not.toContain(newest);
  expect(sync.synchronous_standby_names).toMatch(/^ANY 1 \(/);
}, 240_000);

test('scale in of the primary or an unknown node, or with a bad drain deadline, is refused', async () => {
  const t = lab.readTopology();
  const r1 = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ direction: 'in', node: 'pg9' }),
  });
  expect(r1.status).toBe(400);
  expect(((await r1.json()) as { error: string }).error).toMatch(/unknown node "pg9"/);
  const r2 = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ direction: 'in', node: t.primary }),
  });
  expect(r2.status).toBe(409);
  const r3 = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ direction: 'sideways' }),
  });
  expect(r3.status).toBe(400);
  const r4 = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ direction: 'in', drainSeconds: 9999 }),
  });
  expect(r4.status).toBe(400);
  expect(((await r4.json()) as { error: string }).error).toMatch(/drainSeconds must be a whole number from 0 to 600/);
  expect(lab.readTopology().version).toBe(t.version);
});

test('read-load alarms scale out onto a provisioned node and back in, never below the minimum', async () => {
  await lab.waitReady(30_000);
  const cluster = lab.config().cluster;
  const alarm = async (name: string) => {
    const def = ALARMS.find((a) => a.name === name)!;
    const ev = alarmEvent(alarmName(cluster, def), def, cluster, { Cluster: cluster }, 'OK', 'ALARM');
    return (await labApi<{ rule: string; result: Record<string, string> }>(lab, 'POST', '/v1/events', ev)).result;
  };
  const ended = (name: string) => executionEnded(lab, name, 150_000);
  const standbys = () =>
    lab
      .readTopology()
      .nodes.filter((n) => n.role === 'standby')
      .map((n) => n.name)
      .sort();
  const before = standbys();

  const out = await alarm('read-load-high');
  expect(out).toMatchObject({ action: 'started', workflow: 'scale-out' });
  expect((await ended(out.executionName)).status).toBe('SUCCEEDED');
  const added = standbys().filter((n) => !before.includes(n));
  expect(added).toHaveLength(1);
  await waitFor(
    `${added[0]} streaming and up in pgpool`,
    async () => {
      const s = await lab.status();
      return (
        s.nodes.find((n) => n.name === added[0])?.streaming &&
        s.pgpools[0].nodes.find((n) => n.name === added[0])?.status === 'up'
      );
    },
    30_000,
    250,
  );

  const back = await alarm('read-load-low');
  expect(back).toMatchObject({ action: 'started', workflow: 'scale-in' });
  expect((await ended(back.executionName)).status).toBe('SUCCEEDED');
  expect(standbys()).toEqual(before);
  expect(lab.readTopology().nodes.find((n) => n.name === added[0])?.role).toBe('removed');

  // At the minimum (PGWARDEN_MIN_STANDBYS, 2) a quiet-standby alarm removes nothing.
  expect(await alarm('read-load-low')).toMatchObject({
    action: 'ignored',
    reason: expect.stringContaining('PGWARDEN_MIN_STANDBYS=2'),
  });
  expect(standbys()).toEqual(before);
}, 360_000);

test('a scale in that fails after the drain puts the standby back: attached, weighted, in the quorum', async () => {
  await lab.waitReady(30_000);
  const t0 = lab.readTopology();
  const newest = t0.nodes.filter((n) => n.role === 'standby').sort((a, b) => b.backendId - a.backendId)[0].name;
  // The detach fails on every attempt (3: the first and its two retries).
  await labApi(lab, 'POST', '/v1/faults', { state: 'DetachEverywhere', times: 3 });
  const r = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ direction: 'in', node: newest, drainSeconds: 5, wait: true }),
  });
  const { execution } = (await r.json()) as {
    execution: { name: string; status: string; steps: { state: string }[]; output?: unknown };
  };
  expect(execution.status).toBe('FAILED');
  const states = execution.steps.map((s) => s.state);
  expect(states).toEqual(expect.arrayContaining(['DrainStandby', 'AbortScaleIn', 'NotifyFailure']));
  expect(states).not.toContain('StopStandby');
  const t = lab.readTopology();
  expect(t.nodes.find((n) => n.name === newest)).toMatchObject({ role: 'standby' });
  expect(t.nodes.filter((n) => n.maintenance)).toEqual([]);
  expect(t.lease).toBeUndefined();
  const row = (await lab.query<Record<string, string>>('pgpool1', 'SHOW POOL_NODES')).find(
    (x) => Number(x.port) === lab.node(newest).port,
  )!;
  expect(row.status).toMatch(/up|waiting/);
  expect(Number(row.lb_weight)).toBeGreaterThan(0);
  const [sync] = await lab.query<{ synchronous_standby_names: string }>(t.primary, 'show synchronous_standby_names');
  expect(sync.synchronous_standby_names).toContain(newest);
}, 240_000);
