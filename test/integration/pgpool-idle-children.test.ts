/**
 * pgpool patch 0011: when the primary goes down, stock pgpool-II 4.6.1 killed every child and forked
 * num_init_children new ones inside its failover, while new clients waited for its end. The patched
 * build restarts only the children with a client (their sessions held connections to the old primary)
 * and keeps the idle ones, which discard their pooled connections before their next session. Stock
 * pgpool's idle children that a failback had flagged exited, too, when one new client woke them
 * together; patched, they discard their connections and stay.
 * pgpool patch 0012: those kept children closed every pooled connection, to the standby as well;
 * patched, they close only the connections to the backend that went down, and their next sessions
 * run over the connections they pooled to the standby, which its promotion did not end.
 *
 * Eight pgpool children, so that every one of them has served a session (and pools connections to the
 * old primary) before the primary goes. The lab's app and control plane are stopped: no session but
 * this test's holds a child, and the new primary is promoted here (pgpool's failover_command finds
 * no control plane and pgpool searches for the primary until it is promoted).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { query } from '../../infra/local/lab/connections';
import { readPid } from '../../infra/local/lab/processes';
import { waitFor } from '../../infra/local/proc';
import { pgpoolAloneLab } from './support/lab';
import { pgpoolClientChildren } from './support/processes';

const CHILDREN = 8;
const { lab, pgpoolDir, pgpoolLog, logSince } = pgpoolAloneLab(27800, {
  table: 'idle_children',
  pgpoolEnv: { PGW_PGPOOL_CHILDREN: String(CHILDREN) },
});

/** pgpool's children that serve clients, by pid, with their title. */
const children = () => pgpoolClientChildren(readPid(join(pgpoolDir(), 'run', 'pgpool.pid'))!);

const idle = () => [...children()].filter(([, title]) => title === 'wait for connection request').map(([pid]) => pid);

/**
 * `n` sessions through pgpool at once, each writing a row, each ended; throws on any error. Returns
 * the primary's backend pid of each session.
 */
async function sessionsAtOnce(n: number, value: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new Client({ connectionString: lab.connectionString('pgpool'), connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        // Held a moment, so that the sessions are served by different children.
        await c.query('select pg_sleep(0.3)');
        await c.query('insert into idle_children values ($1)', [value]);
        const r = await c.query<{ pid: number }>('/*NO LOAD BALANCE*/ select pg_backend_pid() as pid');
        return r.rows[0].pid;
      } finally {
        await c.end();
      }
    }),
  );
}

/** The pids of the app's sessions on a node (pgpool's pooled connections among them). */
async function appBackends(node: string): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    lab,
    node,
    "select pid from pg_stat_activity where usename = 'app' and backend_type = 'client backend'",
  );
  return rows.map((r) => r.pid);
}

test('idle children that a failback flagged discard their connections instead of exiting when one client wakes them (patch 0011)', async () => {
  const standby = lab.readTopology().nodes.find((n) => n.role === 'standby')!;
  // A detach and an attach of the standby: pgpool's failback flags every child (streaming replication
  // mode: "Do not restart children because we are failing back"). Both scripts return once pgpool
  // shows the node down, then up.
  const settled = statSync(pgpoolLog()).size;
  const d = await lab.script('pgpool1', 'pgpool-detach', { NODE_ID: String(standby.backendId) });
  expect(d.stdout).toContain('changed=yes');
  const a = await lab.script('pgpool1', 'pgpool-attach', { NODE_ID: String(standby.backendId) });
  expect(a.stdout).toContain('changed=yes');
  // The script returns once pgpool shows the node up; pgpool's failback goes on (it looks for the
  // primary and then flags every child), and would flag the next test's children too.
  await waitFor('pgpool to end its failback', () => logSince(settled).includes('=== Failback done'), 20_000);
  const before = await waitFor(
    `pgpool's ${CHILDREN} children`,
    () => {
      const pids = [...children().keys()].sort();
      return pids.length === CHILDREN ? pids : undefined;
    },
    10_000,
  );
  const offset = statSync(pgpoolLog()).size;
  // One client at a time: every idle child wakes, one accepts it, the others find nothing.
  await sessionsAtOnce(1, 3);
  await sessionsAtOnce(1, 3);
  expect([...children().keys()].sort()).toEqual(before);
  const added = logSince(offset);
  expect(added).not.toContain('restarting myself');
  expect(added).toContain('discarding existing connections');
}, 120_000);

test('when the primary goes, pgpool restarts only the children with a client; the idle ones stay, keep their connections to the standby and write to it once promoted (patches 0011, 0012)', async () => {
  // Every child serves a session first, so that every one pools connections to the primary.
  await sessionsAtOnce(CHILDREN, 1);
  const t = lab.readTopology();
  const standby = t.nodes.find((n) => n.role === 'standby')!.name;
  // One session stays open: its child has a client when the primary goes.
  const held = new Client({ connectionString: lab.connectionString('pgpool') });
  held.on('error', () => undefined); // its end, expected
  await held.connect();
  await held.query('select 1');
  const port = (held as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
  const heldPid = [...children()].find(([, title]) => title.includes(`(${port}) `))?.[0];
  expect(heldPid).toBeDefined();
  // The other children are back to waiting for a client (their sessions above have ended).
  const idleBefore = await waitFor(
    `${CHILDREN - 1} children waiting for a client`,
    () => {
      const pids = idle();
      return pids.length === CHILDREN - 1 ? pids : undefined;
    },
    10_000,
  );

  // Every child pools a connection to the standby too (pgpool connects each session to every node).
  const standbyBefore = await appBackends(standby);
  expect(standbyBefore.length).toBeGreaterThanOrEqual(CHILDREN);

  const offset = statSync(pgpoolLog()).size;
  await lab.stop(t.primary);
  await waitFor('pgpool to begin its failover', () => logSince(offset).includes('Starting degeneration'), 20_000);
  await query(lab, standby, 'select pg_promote()');
  await waitFor('pgpool to end its failover', () => /=== Failover done/.test(logSince(offset)), 30_000);

  // The held session ended with the old primary; its child is gone, a new one took its place.
  await expect(held.query('select 1')).rejects.toThrow();
  await held.end().catch(() => undefined);
  const after = await waitFor(
    `pgpool's ${CHILDREN} children`,
    () => {
      const c = children();
      return c.size === CHILDREN ? c : undefined;
    },
    10_000,
  );
  expect(after.has(heldPid!)).toBe(false);
  // Every child that was waiting for a client is the same process.
  expect(idleBefore.filter((pid) => !after.has(pid))).toEqual([]);
  const added = logSince(offset);
  expect(added).toContain(`Restart the children with a client; ${CHILDREN - 1} idle children stay`);
  // pgpool names the children it restarted and where each was (patch 0019).
  expect(added).toContain(`restarted: ${heldPid} (idle, connecting flag 2)`);
  expect(added).not.toContain('Restart all children');

  // A session on every child, the kept ones included (they pooled connections to the old primary):
  // each write reaches the new primary. The kept children dropped only their connections to the old
  // primary (patch 0012): their sessions run over the connections they pooled to the standby before
  // it was promoted, which the failover did not end.
  const pids = await sessionsAtOnce(CHILDREN, 2);
  const reused = pids.filter((pid) => standbyBefore.includes(pid));
  expect(reused.length).toBeGreaterThanOrEqual(CHILDREN / 2);
  const [{ n }] = await query<{ n: string }>(
    lab,
    standby,
    'select count(*) as n from idle_children where x = 2',
    [],
    3000,
    { database: 'app' },
  );
  expect(Number(n)).toBe(CHILDREN);
}, 180_000);
