/**
 * Elastic read capacity on a real lab cluster: scale out under a read load (the new standby serves
 * SELECTs through pgpool once caught up), scale in with no client error and no orphaned slot.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { labApi } from '../../infra/local/drill';
import { Lab } from '../../infra/local/lab';
import { waitFor } from '../../infra/local/proc';

const lab = new Lab({ dir: mkdtempSync(join(tmpdir(), 'pgw-')), portBase: 26400, log: () => undefined });

/** Readers through pgpool, each opening a session per query (as a web request would). */
function startReadLoad(readers = 3) {
  let running = true;
  const stats = { ok: 0, errors: [] as string[] };
  const conn = lab.connectionString('pgpool', 'app', 'app');
  const reader = async () => {
    while (running) {
      const c = new Client({ connectionString: conn, connectionTimeoutMillis: 5000, query_timeout: 5000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('select count(*) from scale_test');
        stats.ok++;
      } catch (e) {
        stats.errors.push((e as Error).message);
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
  // A pgpool health check that timed out under load may have detached a standby (re-attaching it
  // automatically is open work, issue 4): start from a cluster every pgpool sees whole.
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

test('scale in: reads continue, no orphaned slot, quorum valid', async () => {
  const t0 = lab.readTopology();
  const newest = t0.nodes.filter((n) => n.role === 'standby').sort((a, b) => b.backendId - a.backendId)[0].name;
  const load = startReadLoad();
  let exec: { status: string };
  try {
    await waitFor('the read load', () => load.stats.ok > 20 || load.stats.errors[0], 10_000);
    expect(load.stats.errors).toEqual([]);
    exec = (await labApi<{ execution: typeof exec }>(lab, 'POST', '/v1/scale', { direction: 'in', wait: true }))
      .execution;
    const after = load.stats.ok;
    await waitFor('reads after the scale-in', () => load.stats.ok > after + 20, 10_000);
  } finally {
    await load.stop();
  }
  expect(exec.status).toBe('SUCCEEDED');
  // Known gap (issue 4): pgpool-II 4.3 cuts the sessions in flight when it detaches a standby
  // (pcp_detach_node, with or without -g); the clients' next sessions succeed.
  expect(load.stats.errors.every((e) => /Connection terminated unexpectedly/.test(e))).toBe(true);
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

test('scale in of the primary or an unknown node is refused', async () => {
  const t = lab.readTopology();
  const r1 = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    body: JSON.stringify({ direction: 'in', node: 'pg9' }),
  });
  expect(r1.status).toBe(400);
  expect(((await r1.json()) as { error: string }).error).toMatch(/unknown node "pg9"/);
  const r2 = await fetch(`${lab.apiUrl}/v1/scale`, {
    method: 'POST',
    body: JSON.stringify({ direction: 'in', node: t.primary }),
  });
  expect(r2.status).toBe(409);
  const r3 = await fetch(`${lab.apiUrl}/v1/scale`, { method: 'POST', body: JSON.stringify({ direction: 'sideways' }) });
  expect(r3.status).toBe(400);
  expect(lab.readTopology().version).toBe(t.version);
});
