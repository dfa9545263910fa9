/**
 * pgpool patch 0010: a fast shutdown of the primary tells a session that waits for synchronous
 * replication with a WARNING (SQLSTATE 57P01), then closes the connection without the FATAL that
 * pgpool reads as "shut down by administrative command". Stock pgpool-II 4.6.1 began no failover
 * from such a session (only a later connection or health check found the node gone); the patched
 * build reports the node at once, unless the node still accepts connections (the same warning ends
 * the wait of a session terminated with pg_terminate_backend()).
 *
 * Here every commit on the primary waits: its synchronous_standby_names names a standby that does
 * not exist. The lab's app and control plane are stopped: what pgpool does is pgpool's alone, and no
 * idle session through pgpool reads the FATAL that stock pgpool acts on.
 */
import { readFileSync, statSync } from 'node:fs';
import { Client } from 'pg';
import { quoteLiteral } from '../../functions/planned/common';
import { query } from '../../infra/local/lab/connections';
import { waitFor } from '../../infra/local/proc';
import { pgpoolAloneLab } from './support/lab';

// Nothing but this test's sessions goes through pgpool: the app keeps idle sessions there, and the
// control plane opens some (metrics, heal); an idle one reads the FATAL and reports the node first.
// With the control plane down, pgwarden does not act on the failover either (the hook's call fails).
const { lab, pgpoolLog } = pgpoolAloneLab(27900, { table: 'syncrep_wait' });

/**
 * The primary's commits wait for a standby that never confirms; returns a function that puts back
 * the synchronous_standby_names it had (pgwarden sets it with ALTER SYSTEM too).
 */
async function holdCommits(primary: string): Promise<() => Promise<void>> {
  const set = async (value: string) => {
    await query(lab, primary, `alter system set synchronous_standby_names = ${quoteLiteral(value)}`);
    await query(lab, primary, 'select pg_reload_conf()');
  };
  const [{ synchronous_standby_names: before }] = await query<{ synchronous_standby_names: string }>(
    lab,
    primary,
    'show synchronous_standby_names',
  );
  await set('nobody');
  return () => set(before);
}

/**
 * An insert through pgpool by a session named `name`, once the primary shows it waiting for
 * synchronous replication; resolves to the insert's outcome (the session ends with an error).
 */
async function waitingInsert(primary: string, name: string): Promise<{ outcome: Promise<unknown>; pid: number }> {
  const c = new Client({
    connectionString: lab.connectionString('pgpool'),
    application_name: name,
    connectionTimeoutMillis: 5000,
  });
  c.on('error', () => undefined);
  await c.connect();
  const outcome = c.query('insert into syncrep_wait values (1)').then(
    () => 'committed',
    (e: Error) => e,
  );
  const admin = await lab.client(primary);
  try {
    const pid = await waitFor(
      `the session ${name} to wait for synchronous replication`,
      async () => {
        const r = await admin.query(
          "select pid from pg_stat_activity where application_name = $1 and wait_event = 'SyncRep'",
          [name],
        );
        return r.rows[0]?.pid as number | undefined;
      },
      10_000,
    );
    return { outcome: outcome.finally(() => c.end().catch(() => undefined)), pid };
  } finally {
    await admin.end();
  }
}

const backendId = (node: string) => lab.readTopology().nodes.find((n) => n.name === node)?.backendId;

test('pg_terminate_backend of a session waiting for synchronous replication does not make pgpool detach the primary', async () => {
  const primary = lab.readTopology().primary;
  const offset = statSync(pgpoolLog()).size;
  const release = await holdCommits(primary);
  try {
    const { outcome, pid } = await waitingInsert(primary, 'syncrep-terminated');
    await query(lab, primary, 'select pg_terminate_backend($1)', [pid]);
    expect(await outcome).toBeInstanceOf(Error);
    await waitFor(
      "pgpool's check of the node",
      () => readFileSync(pgpoolLog(), 'utf8').slice(offset).includes('still accepts connections'),
      10_000,
    );
  } finally {
    await release();
  }
  const added = readFileSync(pgpoolLog(), 'utf8').slice(offset);
  expect(added).toContain(`DB node ${backendId(primary)} still accepts connections`);
  expect(added).not.toMatch(/received degenerate backend request|Starting degeneration/);
  // pgpool still serves writes on the primary
  await query(lab, 'pgpool', 'insert into syncrep_wait values (2)');
}, 60_000);

test('a fast shutdown of the primary reported by a session waiting for synchronous replication starts pgpool failover (patch 0010)', async () => {
  const primary = lab.readTopology().primary;
  const offset = statSync(pgpoolLog()).size;
  await holdCommits(primary);
  const { outcome } = await waitingInsert(primary, 'syncrep-waiter');
  await lab.stop(primary);
  expect(await outcome).toBeInstanceOf(Error);
  const id = backendId(primary);
  // The child serving that session (pgpool's log names it by the session's application_name) asks
  // for the failover itself.
  const asked = new RegExp(
    `syncrep-waiter pid (\\d+): LOG:  received degenerate backend request for node_id: ${id} from pid \\[\\1\\]`,
  );
  await waitFor(
    'pgpool to begin its failover',
    () => readFileSync(pgpoolLog(), 'utf8').slice(offset).includes('Starting degeneration'),
    20_000,
  );
  const added = readFileSync(pgpoolLog(), 'utf8').slice(offset);
  expect(added).toContain(`postmaster on DB node ${id} was shutdown by administrative command`);
  expect(added).toMatch(asked);
  // ...and it came before any other process of pgpool reported the node.
  const first = added.split('\n').find((l) => /received degenerate backend request|health check failed/.test(l));
  expect(first).toMatch(/syncrep-waiter pid/);
}, 90_000);
