/**
 * Rejoin (failback) on a real lab cluster: after a failover the old primary comes back on its own
 * (lab start -> EC2 running event -> rejoin workflow) as a streaming standby with identical data; a
 * node whose WAL diverged is rewound and its divergent rows are gone; when rewind is impossible
 * (its WAL is gone) a fresh basebackup is used.
 */
import { testPortBase } from './support/lab';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTopologyStore, LocalNodeCommands } from '../../infra/local/adapters';
import { executions, labApi } from '../../infra/local/drill';
import { Lab } from '../../infra/local/lab';
import { waitFor } from '../../infra/local/proc';
import { updateTopology } from '../../functions/lib/topology-update';

// The rewind runs longer than one poll step waits (it waits up to 5 minutes in AWS): RewindNode returns
// "still running" and the workflow loops back to it, as a basebackup longer than a Lambda makes it do.
process.env.PGWARDEN_COMMAND_POLL_WAIT_MS = '200';
const lab = new Lab({ dir: mkdtempSync(join(tmpdir(), 'pgw-')), portBase: testPortBase(26200), log: () => undefined });

async function checksums(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of lab.config().nodes) {
    const [r] = await lab
      .query<{ sum: string }>(
        n.name,
        "select md5(coalesce(string_agg(id::text || ':' || v, ',' order by id), '')) as sum from rejoin_test",
        [],
      )
      .catch(() => [{ sum: 'unreachable' }]);
    out[n.name] = r.sum;
  }
  return out;
}

async function healthyThreeNodes(): Promise<void> {
  await lab.waitReady(60_000);
  // Both standbys stream from the primary on its timeline (a rejoined node may still be switching).
  const whole = async () => {
    const st = await lab.status();
    const pr = st.nodes.find((n) => n.role === 'primary');
    const ok = st.nodes.filter(
      (n) => n.role === 'standby' && n.streaming && n.upstream === pr?.name && n.timeline === pr?.timeline,
    );
    return ok.length === 2 ? st : undefined;
  };
  const s = await waitFor('two standbys streaming from the primary on its timeline', whole, 30_000, 200).catch(() =>
    lab.status(),
  );
  const p = s.nodes.find((n) => n.role === 'primary')!;
  expect(
    s.nodes.filter((n) => n.role === 'standby' && n.streaming && n.upstream === p.name && n.timeline === p.timeline),
  ).toHaveLength(2);
  expect(p.timeline).toBe(lab.readTopology().timeline);
  // Caught up: the same rows everywhere.
  const lsn = (await lab.query<{ l: string }>(p.name, 'select pg_current_wal_lsn()::text as l'))[0].l;
  await waitFor(
    "every standby to replay the primary's LSN",
    async () => {
      const rows = await Promise.all(
        s.nodes
          .filter((n) => n.role === 'standby')
          .map((n) => lab.query<{ ok: boolean }>(n.name, 'select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [lsn])),
      );
      return rows.every((r) => r[0].ok);
    },
    20_000,
  );
  const sums = Object.values(await checksums());
  expect(new Set(sums).size).toBe(1);
}

interface RejoinExecution {
  status: string;
  output?: { rewind?: { method: string; command?: { attempt: number; commandId: string } } };
  steps: { state: string; attempts: number }[];
}

async function rejoinByHand(node: string): Promise<RejoinExecution> {
  const r = await labApi<{ execution: RejoinExecution }>(lab, 'POST', '/v1/rejoin', { node, wait: true });
  return r.execution;
}

/** One start, polled more than once (the poll loop ran), one attempt. */
function startedOncePolledInALoop(exec: RejoinExecution): void {
  const runs = (state: string) => exec.steps.filter((s) => s.state === state);
  expect(runs('StartRewind').map((s) => s.attempts)).toEqual([1]);
  expect(runs('RewindNode').length).toBeGreaterThan(1);
  expect(runs('RewindDone').length).toBe(runs('RewindNode').length);
  expect(exec.output!.rewind!.command).toMatchObject({ attempt: 1, commandId: expect.stringMatching(/^lab-rejoin-/) });
}

/**
 * A node whose WAL diverged: replication to the standbys is cut, the primary takes writes only it
 * has (committed asynchronously), then it is stopped and a standby is promoted in its place (what a
 * failover does), with pgpool and the topology following. Returns the old primary.
 */
async function divergedPrimary(): Promise<{ old: string; divergent: number }> {
  await labApi(lab, 'POST', '/v1/sensors', { pgpool: false, alarm: false, ec2: false });
  const t = lab.readTopology();
  const old = t.primary;
  const standbys = t.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  for (const s of standbys) {
    await lab.query(s, "alter system set primary_conninfo = ''");
    await lab.query(s, 'select pg_reload_conf()');
  }
  await waitFor(
    'replication cut',
    async () => (await lab.query(old, 'select count(*)::int as n from pg_stat_replication'))[0].n === 0,
    20_000,
  );
  // The standbys were cut one after the other and the primary may have written WAL in between: promote
  // the one that received the most, as the failover's election does, so that the other can follow it.
  const received = await Promise.all(
    standbys.map(async (s) => {
      const [r] = await lab.query<{ lsn: string }>(s, 'select pg_last_wal_receive_lsn()::text as lsn');
      return { s, lsn: r.lsn };
    }),
  );
  const [ahead] = await lab.query<{ first: boolean }>(standbys[0], 'select $1::pg_lsn >= $2::pg_lsn as first', [
    received[0].lsn,
    received[1].lsn,
  ]);
  const [next, other] = ahead.first ? standbys : [standbys[1], standbys[0]];
  await lab.query(old, "alter system set synchronous_standby_names = ''");
  await lab.query(old, 'select pg_reload_conf()');
  await lab.query(old, "insert into rejoin_test select g, 'divergent' from generate_series(100001, 100500) g");
  await lab.stop(old);
  for (const s of [next, other]) await lab.query(s, 'alter system reset primary_conninfo');
  const p = lab.node(next);
  const r = await lab.script(next, 'promote', { SYNC_STANDBYS: `ANY 1 (${other})`, SLOTS: `${other},${old}` });
  expect(r.code).toBe(0);
  const tl = Number(/timeline=(\d+)/.exec(r.stdout)![1]);
  expect((await lab.script(other, 'follow', { PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(p.port) })).code).toBe(0);
  const store = new FileTopologyStore(lab.topologyFile);
  await updateTopology({ topology: store, cluster: t.cluster }, (cur) => {
    for (const n of cur.nodes) n.role = n.name === next ? 'primary' : n.name === old ? 'fenced' : n.role;
    return { ...cur, primary: next, timeline: tl };
  });
  expect((await lab.script('pgpool1', 'pgpool-detach', { NODE_ID: String(lab.node(old).backendId) })).code).toBe(0);
  await waitFor(
    'pgpool to route to the new primary',
    async () =>
      (await lab.status()).pgpools[0].nodes.some((x) => x.name === next && x.role === 'primary' && x.status === 'up'),
    20_000,
  );
  await labApi(lab, 'POST', '/v1/sensors', { pgpool: true, alarm: true, ec2: true });
  return { old, divergent: 500 };
}

beforeAll(async () => {
  await lab.up();
  await lab.query(lab.readTopology().primary, 'create table rejoin_test (id int primary key, v text)');
  // Written through pgpool too, as a client: pgpool logs in only the app's and its own role.
  await lab.query(lab.readTopology().primary, 'grant select, insert on rejoin_test to app');
  await lab.query(
    lab.readTopology().primary,
    "insert into rejoin_test select g, 'v' || g from generate_series(1, 1000) g",
  );
}, 120_000);

afterAll(async () => {
  await lab.down({ purge: true });
}, 60_000);

test("the lab's start / poll / cancel of node commands: one command per request, none while another runs", async () => {
  const nodes = new LocalNodeCommands(lab);
  const t = lab.readTopology();
  const standby = t.nodes.find((n) => n.role === 'standby')!;
  const primary = lab.node(t.primary);
  // A streaming standby: rejoin.sh checks and leaves it alone (method=none).
  const params = { PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(primary.port), METHOD: 'auto' };
  const first = await nodes.start(standby.instanceId, 'rejoin', params, { timeoutMs: 60_000, requestId: 'r1' });
  expect(first.reused).toBe(false);
  // Still running (nothing has reaped it yet): another request is refused, the same request reuses it.
  await expect(
    nodes.start(standby.instanceId, 'rejoin', params, { timeoutMs: 60_000, requestId: 'r2' }),
  ).rejects.toMatchObject({ name: 'NodeCommandBusy' });
  expect(await nodes.start(standby.instanceId, 'rejoin', params, { timeoutMs: 60_000, requestId: 'r1' })).toEqual({
    commandId: first.commandId,
    reused: true,
  });
  const done = await nodes.poll(standby.instanceId, first.commandId, 30_000);
  expect(done).toMatchObject({ ok: true, exitCode: 0 });
  expect((done as { stdout: string }).stdout).toContain('result method=none');
  // Ended: the same request still gets that command, a new one starts (and is cancelled at once).
  expect(await nodes.start(standby.instanceId, 'rejoin', params, { timeoutMs: 60_000, requestId: 'r1' })).toEqual({
    commandId: first.commandId,
    reused: true,
  });
  const second = await nodes.start(standby.instanceId, 'rejoin', params, { timeoutMs: 60_000, requestId: 'r2' });
  expect(second.commandId).not.toBe(first.commandId);
  await nodes.cancel(standby.instanceId, second.commandId);
  expect(await nodes.poll(standby.instanceId, second.commandId, 30_000)).toMatchObject({
    ok: false,
    exitCode: -1,
    stderr: `rejoin on ${standby.instanceId} cancelled`,
  });
  await expect(nodes.poll(standby.instanceId, 'lab-nope', 0)).rejects.toThrow('node command lab-nope is unknown on');
  await expect(nodes.start('lab:nope', 'rejoin', params, { timeoutMs: 60_000 })).rejects.toThrow('unknown node "nope"');
  await expect(nodes.start(standby.instanceId, 'rejoin', params, { timeoutMs: 0 })).rejects.toThrow(
    'timeoutMs must be a positive number',
  );
  await healthyThreeNodes();
}, 120_000);

test('failover then rejoin: three streaming nodes on the new timeline with identical data', async () => {
  const old = lab.readTopology().primary;
  const known = new Set((await executions(lab)).map((e) => e.name));
  lab.kill(old);
  await waitFor(
    'the failover',
    async () =>
      (await executions(lab)).find(
        (e) => !known.has(e.name) && e.workflow === 'failover' && e.status === 'SUCCEEDED' && e.output?.promote,
      ),
    60_000,
    100,
  );
  await lab.query(
    'pgpool',
    "insert into rejoin_test select g, 'after failover' from generate_series(1001, 1100) g",
    [],
    10_000,
    { user: 'app', database: 'postgres' },
  );
  // The node comes back: the supervisor's EC2 "running" event starts the rejoin workflow by itself.
  await lab.start(old);
  const rejoin = await waitFor(
    'the automatic rejoin',
    async () =>
      (await executions(lab)).find(
        (e) => e.workflow === 'rejoin' && e.status !== 'RUNNING' && (e.input as { node?: string }).node === old,
      ),
    120_000,
    200,
  );
  expect(rejoin.status).toBe('SUCCEEDED');
  expect(lab.readTopology().nodes.find((n) => n.name === old)!.role).toBe('standby');
  await healthyThreeNodes();
  expect((await lab.status()).pgpools[0].nodes.find((x) => x.name === old)).toMatchObject({
    status: 'up',
    role: 'standby',
  });
  // The synchronous quorum covers every standby again.
  const t = lab.readTopology();
  const [sync] = await lab.query<{ s: string }>(t.primary, 'show synchronous_standby_names');
  expect(Object.values(sync)[0]).toMatch(new RegExp(`^ANY 1 \\(.*${old}.*\\)$`));
}, 240_000);

test('a node whose WAL diverged is rewound and its divergent rows are gone', async () => {
  const { old } = await divergedPrimary();
  const exec = await rejoinByHand(old);
  expect(exec.status).toBe('SUCCEEDED');
  expect(exec.output!.rewind!.method).toBe('rewind');
  startedOncePolledInALoop(exec);
  const [r] = await lab.query<{ n: number }>(old, "select count(*)::int as n from rejoin_test where v = 'divergent'");
  expect(r.n).toBe(0);
  await healthyThreeNodes();
}, 240_000);

test('rewind impossible (its WAL is gone): the basebackup fallback is used and succeeds', async () => {
  const { old } = await divergedPrimary();
  // The WAL pg_rewind would read to find what the node changed after the fork is gone.
  const wal = join(lab.dataDir(old), 'pg_wal');
  for (const f of readdirSync(wal).filter((x) => /^[0-9A-F]{24}$/.test(x))) rmSync(join(wal, f));
  const exec = await rejoinByHand(old);
  expect(exec.status).toBe('SUCCEEDED');
  expect(exec.output!.rewind!.method).toBe('basebackup');
  startedOncePolledInALoop(exec);
  const [r] = await lab.query<{ n: number }>(old, "select count(*)::int as n from rejoin_test where v = 'divergent'");
  expect(r.n).toBe(0);
  await healthyThreeNodes();
}, 240_000);
