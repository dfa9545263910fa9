/**
 * Safety where faults combine (issue 13), on a real lab: a primary that dies while planned work holds
 * the cluster, a healthy primary that one pgpool detached, a failover that leaves the quorum degraded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { executions, labApi } from '../../infra/local/drill';
import type { Lab } from '../../infra/local/lab';
import { pgpoolBinDir } from '../../infra/local/pgpool-build';
import { waitFor } from '../../infra/local/proc';
import { freshLab } from './support/lab';

jest.setTimeout(240_000);

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.down({ purge: true });
  lab = undefined;
});

/** The app's role and database: what a pgpool logs clients in as (lab.client's default for a pgpool). */
const APP = { user: 'app', database: 'app' };

/** A committed write through pgpool, or the error's message. */
async function writeThroughPgpool(l: Lab): Promise<true | string> {
  try {
    const c = await l.client('pgpool1', { timeoutMs: 3000 });
    try {
      await c.query('create table if not exists safety_probe (id serial primary key, at timestamptz default now())');
      await c.query('insert into safety_probe default values');
      return true;
    } finally {
      await c.end().catch(() => undefined);
    }
  } catch (e) {
    return (e as Error).message;
  }
}

test('a primary that dies while a scale in holds the cluster is failed over: the failover pre-empts the planned work', async () => {
  lab = freshLab(25600);
  await lab.up();
  const l = lab;
  const t0 = l.readTopology();
  // Idle sessions through pgpool that have read (some from the leaving standby): the drain waits for them.
  const sessions: Client[] = [];
  for (let i = 0; i < 8; i++) {
    const c = await l.client('pgpool1');
    await c.query('select 1');
    sessions.push(c);
  }
  try {
    const scaleIn = labApi(l, 'POST', '/v1/scale', { direction: 'in', drainSeconds: 120, reason: 'test' }).catch(
      (e: Error) => e,
    );
    await waitFor('the scale in to hold the cluster', () => l.readTopology().lease?.workflow === 'scale-in', 30_000);
    l.kill(t0.primary);
    const t = await waitFor(
      'a new primary',
      () => {
        const x = l.readTopology();
        return x.primary !== t0.primary && !x.lease ? x : undefined;
      },
      90_000,
      100,
    );
    expect(t.timeline).toBe(t0.timeline + 1);
    expect(t.history.some((e) => e.kind === 'lease-preempted' && e.detail.preemptedWorkflow === 'scale-in')).toBe(true);
    expect(await waitFor('a write through pgpool', async () => (await writeThroughPgpool(l)) === true, 30_000)).toBe(
      true,
    );
    for (const c of sessions) await c.end().catch(() => undefined);
    await scaleIn;
    // The pre-empted scale in ended, recorded, without acting on the cluster the failover took.
    const ex = await waitFor(
      'the scale in to end',
      async () => (await executions(l)).find((e) => e.workflow === 'scale-in' && e.status !== 'RUNNING'),
      60_000,
    );
    expect(ex.status).toBe('FAILED');
    const out = await l.status();
    expect(out.nodes.filter((n) => n.role === 'primary').map((n) => n.name)).toEqual([t.primary]);
  } finally {
    for (const c of sessions) await c.end().catch(() => undefined);
  }
});

/** Detach a backend in pgpool1 as pgpool does itself after one network error (not a planned detach). */
function pgpoolDetaches(l: Lab, backendId: number): void {
  const pool = l.pgpool('pgpool1');
  const args = ['-h', '127.0.0.1', '-p', String(pool.pcpPort), '-U', 'pgwarden', '-w', '-n', String(backendId)];
  const env = `PCPPASSFILE=${join(l.pgpoolDir('pgpool1'), 'pcppass')}`;
  const bin = join(pgpoolBinDir(), 'pcp_detach_node');
  if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', 'env', env, bin, ...args]);
  else execFileSync('env', [env, bin, ...args]);
}

async function routedBy(l: Lab, pgpool: string, node: string) {
  return waitFor(
    `${pgpool} to route writes to ${node} again`,
    async () =>
      (await l.status()).pgpools
        .find((p) => p.name === pgpool)
        ?.nodes.find((n) => n.name === node && n.status === 'up' && n.role === 'primary'),
    30_000,
    200,
  );
}

test('a healthy primary that one pgpool detached is attached again by the false alarm it raises', async () => {
  lab = freshLab(25600);
  await lab.up();
  const l = lab;
  const t0 = l.readTopology();
  pgpoolDetaches(l, l.node(t0.primary).backendId);
  const e = await waitFor(
    'the false alarm',
    async () =>
      (await executions(l)).find(
        (x) =>
          x.workflow === 'failover' &&
          x.status !== 'RUNNING' &&
          (x as { output?: { record?: { outcome?: string } } }).output?.record?.outcome === 'false-alarm',
      ),
    60_000,
    100,
  );
  expect((e as { output?: { record?: { reattached?: string[] } } }).output?.record?.reattached).toEqual(['pgpool1']);
  expect((await routedBy(l, 'pgpool1', t0.primary)).name).toBe(t0.primary);
  expect(await writeThroughPgpool(l)).toBe(true);
  expect(l.readTopology()).toMatchObject({ primary: t0.primary, timeline: t0.timeline });
  // pgpool's own failover searched the standbys for a primary while its failover_command waited for
  // the workflow; the failback the false alarm queued ended that search (patch 0007), instead of it
  // running to search_primary_node_timeout with no writes routed anywhere.
  const pgpoolLog = readFileSync(join(l.pgpoolDir('pgpool1'), 'log', 'pgpool.log'), 'utf8');
  expect(pgpoolLog).toContain('a queued failback or promote request will look again');
  expect(pgpoolLog).not.toContain('find_primary_node_repeatedly: expired');
  // the hook's marker (read by pgpool-attach.sh) names no hook once the hook returned: emptied
  const marker = join(l.pgpoolDir('pgpool1'), 'run', 'failover-hook-running');
  expect(existsSync(marker) ? readFileSync(marker, 'utf8') : '').toBe('');
});

test('without the failover that pgpool reports to, the prober attaches the writable primary a pgpool detached', async () => {
  lab = freshLab(25600);
  await lab.up();
  const l = lab;
  const t0 = l.readTopology();
  await labApi(l, 'POST', '/v1/sensors', { pgpool: false });
  pgpoolDetaches(l, l.node(t0.primary).backendId);
  expect((await routedBy(l, 'pgpool1', t0.primary)).name).toBe(t0.primary);
  expect(l.readTopology().history.some((x) => x.kind === 'primary-reattach' && x.detail.pgpool === 'pgpool1')).toBe(
    true,
  );
  expect((await executions(l)).filter((x) => x.workflow === 'failover')).toEqual([]);
});

test('a failover that leaves no standby to wait for records the degraded quorum; status and the metric say so until a rejoin restores it', async () => {
  lab = freshLab(25600);
  await lab.up();
  const l = lab;
  const t0 = l.readTopology();
  expect((await l.status()).synchronous).toMatch(/^ANY 1 /);
  const [stopped] = t0.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  await l.stop(stopped);
  await waitFor('the prober to see the standby gone', () => !!l.readTopology().absentSince?.[stopped], 60_000).catch(
    async (e: Error) => {
      // What the prober saw instead (a CI run once timed out here; it passes on its own).
      const st = await l.status().catch((x: Error) => x.message);
      throw new Error(`${e.message}; status: ${JSON.stringify(st)}; topology: ${JSON.stringify(l.readTopology())}`);
    },
  );
  l.kill(t0.primary);
  await waitFor('the failover', () => l.readTopology().timeline === t0.timeline + 1 && !l.readTopology().lease, 60_000);
  const t1 = l.readTopology();
  expect(t1.sync).toMatchObject({ primary: t1.primary, quorum: 0, standbys: [] });
  expect((await l.status()).synchronous).toMatch(/^DEGRADED: asynchronous/);
  const degraded = await waitFor(
    'SyncDegraded = 1',
    async () => {
      const m = await labApi<{ series: { name: string; samples: { v: number }[] }[] }>(
        l,
        'GET',
        '/v1/metrics?name=SyncDegraded',
      ).catch(() => undefined);
      const v = m?.series?.[0]?.samples?.at(-1)?.v;
      return v === 1 ? v : undefined;
    },
    30_000,
  );
  expect(degraded).toBe(1);
  // The standby comes back: it is rejoined and the quorum restored, recorded as in force.
  await l.start(stopped);
  await waitFor(
    'the quorum restored',
    () => {
      const x = l.readTopology();
      return x.sync?.quorum === 1 && x.sync.standbys.includes(stopped) ? x : undefined;
    },
    120_000,
    200,
  );
  expect((await l.status()).synchronous).toMatch(/^ANY 1 \(.*\) in force$/);
});

test('a switchover that fails after its promotion leaves the old primary unable to come back writable', async () => {
  lab = freshLab(25600);
  await lab.up();
  const l = lab;
  const t0 = l.readTopology();
  // UpdatePgpools fails more often than it is retried: the workflow ends before RejoinOldPrimary.
  await labApi(l, 'POST', '/v1/faults', { state: 'UpdatePgpools', times: 10 });
  const r = await labApi<{ execution: { status: string } }>(l, 'POST', '/v1/switchover', { wait: true }).catch(
    (e: Error) => e,
  );
  const ex = await waitFor(
    'the switchover to end',
    async () => (await executions(l)).find((e) => e.workflow === 'switchover' && e.status !== 'RUNNING'),
    60_000,
  );
  expect(ex.status).toBe('FAILED');
  expect(r).toBeDefined();
  const t1 = l.readTopology();
  expect(t1.primary).not.toBe(t0.primary);
  expect(l.postmasterPid(t0.primary)).toBeUndefined();
  // Whatever starts it now (here the lab, in AWS a reboot) starts it read-only.
  await l.start(t0.primary);
  const [row] = await l.query<{ rec: boolean }>(t0.primary, 'select pg_is_in_recovery() as rec');
  expect(row.rec).toBe(true);
  const writable = (await l.status()).nodes.filter((n) => n.role === 'primary').map((n) => n.name);
  expect(writable).toEqual([t1.primary]);
});

test('strict synchronous mode: a failover that leaves no standby keeps commits waiting until one is back, and loses none', async () => {
  const saved = process.env.PGWARDEN_SYNC_STRICT;
  process.env.PGWARDEN_SYNC_STRICT = '1'; // the control plane lab up starts inherits it
  try {
    lab = freshLab(25600);
    await lab.up();
  } finally {
    if (saved === undefined) delete process.env.PGWARDEN_SYNC_STRICT;
    else process.env.PGWARDEN_SYNC_STRICT = saved;
  }
  const l = lab;
  const t0 = l.readTopology();
  // Created while a synchronous standby is there: after the failover even DDL waits.
  await l.query(t0.primary, 'create table strict_probe (id int primary key)', [], 3000, APP);
  const [stopped] = t0.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  await l.stop(stopped);
  await waitFor('the prober to see the standby gone', () => !!l.readTopology().absentSince?.[stopped], 60_000).catch(
    async (e: Error) => {
      // What the prober saw instead (a CI run once timed out here; it passes on its own).
      const st = await l.status().catch((x: Error) => x.message);
      throw new Error(`${e.message}; status: ${JSON.stringify(st)}; topology: ${JSON.stringify(l.readTopology())}`);
    },
  );
  l.kill(t0.primary);
  const t1 = await waitFor(
    'the failover',
    () => {
      const x = l.readTopology();
      return x.timeline === t0.timeline + 1 && !x.lease ? x : undefined;
    },
    60_000,
  );
  expect(t1.sync).toMatchObject({ primary: t1.primary, quorum: 1, standbys: [stopped] });
  expect((await l.status()).synchronous).toBe(`ANY 1 (${stopped}) in force`);
  const c = await waitFor(
    'a session through pgpool',
    () => l.client('pgpool1', { timeoutMs: 60_000 }).catch(() => undefined),
    30_000,
  );
  try {
    let acked = false;
    const commit = c.query('insert into strict_probe values (1)').then(() => {
      acked = true;
    });
    // Not acknowledged while no synchronous standby is there (a bounded look, not a readiness wait).
    await expect(
      waitFor('an acknowledgement that must not come', () => acked || undefined, 3_000, 100),
    ).rejects.toThrow(/timed out/);
    await l.start(stopped);
    await waitFor('the waiting commit to be acknowledged once the standby is back', () => acked || undefined, 120_000);
    await commit;
    const [row] = await l.query<{ n: number }>(
      t1.primary,
      'select count(*)::int as n from strict_probe',
      [],
      3000,
      APP,
    );
    expect(row.n).toBe(1);
  } finally {
    await c.end().catch(() => undefined);
  }
});
