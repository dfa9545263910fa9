/**
 * Rejoin bench: time to bring a failed primary back as a streaming standby by pg_rewind vs by
 * pg_basebackup, for a small database and a large one (default 10 MB and 1 GB).
 *
 * Each size: one table of about that size (generate_series, replicated under the quorum commit),
 * indexed and vacuumed. Each method, on that data: every standby caught up; a checkpoint (steady
 * state); SIGKILL of the primary (the failover workflow, started by pgpool's hook or the alarm,
 * promotes a standby); the first 1% of the table's rows updated on the new primary (what the
 * returning node must catch up on, and what the old one must not keep); then the rejoin workflow with
 * METHOD forced, waited on until it ends. Reported: the rejoin workflow's time, its StartRewind and
 * RewindNode steps (pg_rewind or pg_basebackup, start as a standby, streaming; RewindNode polls the
 * command, looping while it runs) and WaitCaughtUp step.
 * Usage: npm run bench -- rejoin [--sizes-mb 10,1024] [--dir LAB_DIR | --port-base N]
 */
import { execFileSync } from 'node:child_process';
import { executions, labApi } from '../infra/local/drill';
import type { Lab } from '../infra/local/lab';
import { waitFor } from '../infra/local/proc';
import { argValue, benchLab, PROFILE_NOTE } from './planned-lab';
import { table } from './util';

interface Exec {
  name: string;
  status: string;
  durationMs: number;
  steps: { state: string; durationMs?: number; attempts?: number; error?: string }[];
  output?: { rewind?: { method: string; durationMs: number } };
  error?: { Error: string; Cause: string };
}

const REJOIN_DEADLINE_MS = 30 * 60_000;
const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

function load(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' })
      .trim()
      .replace(/^.*load average:\s*/, 'load ');
  } catch {
    return 'load ?';
  }
}

/** Every standby has replayed the primary's current WAL position (a failover then starts from a caught-up cluster). */
async function standbysCaughtUp(lab: Lab, timeoutMs: number): Promise<void> {
  const t = lab.readTopology();
  const [{ lsn }] = await lab.query<{ lsn: string }>(t.primary, 'select pg_current_wal_lsn()::text as lsn');
  await waitFor(
    `every standby to replay ${lsn}`,
    async () => {
      for (const n of t.nodes.filter((x) => x.role === 'standby')) {
        const [r] = await lab.query<{ ok: boolean }>(n.name, 'select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [
          lsn,
        ]);
        if (!r.ok) return false;
      }
      return true;
    },
    timeoutMs,
    500,
  );
}

/** The rejoin execution once it has ended (the API's own wait is capped under the HTTP timeout). */
async function rejoinAndWait(lab: Lab, node: string, method: string): Promise<Exec> {
  const r = await labApi<{ executionName: string }>(lab, 'POST', '/v1/rejoin', { node, method });
  const deadline = Date.now() + REJOIN_DEADLINE_MS;
  for (;;) {
    const e = await labApi<Exec>(lab, 'GET', `/v1/executions/${encodeURIComponent(r.executionName)}?waitMs=60000`);
    if (e.status !== 'RUNNING') return e;
    if (Date.now() > deadline)
      throw new Error(`rejoin ${r.executionName} still running after ${REJOIN_DEADLINE_MS} ms`);
  }
}

export async function run(argv: string[]): Promise<void> {
  const sizes = (argValue(argv, '--sizes-mb') ?? '10,1024').split(',').map(Number);
  const { lab, done } = await benchLab(argv, 27300);
  const rows: (string | number)[][] = [];
  const t0 = Date.now();
  try {
    for (const mb of sizes) {
      await lab.waitReady(120_000);
      const primary = lab.readTopology().primary;
      await lab.query(primary, 'drop table if exists bench_rejoin', [], 60_000);
      // About 53 rows of 150 bytes per 8 kB page: 6500 rows per MB on disk.
      const tc = Date.now();
      await lab.query(
        primary,
        `create table bench_rejoin as select g, repeat('x', 120) as pad from generate_series(1, ${Math.round(mb * 6500)}) g`,
        [],
        3_600_000,
      );
      // An index for the writes after the failover: a sequential scan there would set the hint bits the
      // standby never received on every page (wal_log_hints: a full-page image each, 1.4 GB of WAL for
      // the 1 GB table), pass wal_keep_size and remove the WAL a rewind needs (rejoin.sh refuses then).
      await lab.query(primary, 'create index on bench_rejoin (g)', [], 3_600_000);
      await lab.query(primary, 'vacuum analyze bench_rejoin', [], 3_600_000);
      const [{ size }] = await lab.query<{ size: string }>(
        primary,
        "select pg_size_pretty(pg_database_size(current_database())) || ' (table ' || pg_size_pretty(pg_total_relation_size('bench_rejoin')) || ')' as size",
      );
      console.error(`${mb} MB: database ${size}, loaded in ${s(Date.now() - tc)} s; ${load()}`);
      for (const method of ['rewind', 'basebackup'] as const) {
        await lab.waitReady(300_000);
        await standbysCaughtUp(lab, 600_000);
        const old = lab.readTopology().primary;
        // A primary that fails in steady state: its last checkpoint is recent. (Killed in the middle of
        // its bulk load instead, the last checkpoint it shares with the new primary starts in WAL that
        // neither keeps any more: rewind cannot work, and rejoin.sh says so.)
        await lab.query(old, 'checkpoint', [], 600_000);
        const known = new Set((await executions(lab)).map((e) => e.name));
        // No EC2 "running" event may start an automatic rejoin: the bench starts it, with the method.
        await labApi(lab, 'POST', '/v1/sensors', { ec2: false });
        try {
          lab.kill(old);
          const failover = await waitFor(
            'the failover',
            async () =>
              (await executions(lab)).find(
                (e) => !known.has(e.name) && e.workflow === 'failover' && e.status !== 'RUNNING' && e.output?.promote,
              ),
            300_000,
            200,
          );
          if (failover.status !== 'SUCCEEDED') throw new Error(`failover ${failover.name} ${failover.status}`);
          await lab.query(
            lab.readTopology().primary,
            `update bench_rejoin set pad = repeat('y', 120) where g <= ${Math.round((mb * 6500) / 100)}`,
            [],
            600_000,
          );
          const la = load();
          const e = await rejoinAndWait(lab, old, method);
          const step = (n: string) => e.steps.find((x) => x.state === n);
          // The command is started (StartRewind), then polled (RewindNode, looped while it runs).
          const polls = e.steps.filter((x) => x.state === 'StartRewind' || x.state === 'RewindNode');
          const rw = {
            durationMs: polls.every((x) => x.durationMs !== undefined)
              ? polls.reduce((a, x) => a + (x.durationMs ?? 0), 0)
              : undefined,
            attempts: Math.max(1, ...polls.filter((x) => x.state === 'StartRewind').map((x) => x.attempts ?? 1)),
          };
          rows.push([
            size,
            method,
            e.status === 'SUCCEEDED' ? (e.output?.rewind?.method ?? '?') : `${e.status}: ${e.error?.Cause ?? ''}`,
            `${s(rw?.durationMs)}${(rw?.attempts ?? 1) > 1 ? ` (${rw?.attempts} attempts)` : ''}`,
            s(step('WaitCaughtUp')?.durationMs),
            s(e.durationMs),
            la,
          ]);
          console.error(rows[rows.length - 1].join(' | '));
        } finally {
          await labApi(lab, 'POST', '/v1/sensors', { ec2: true });
        }
      }
    }
  } finally {
    console.log(`rejoin bench (failed primary back as a standby); ${PROFILE_NOTE}; 2 cores shared`);
    console.log(
      table([
        [
          'database',
          'method',
          'used',
          'RewindNode s',
          'WaitCaughtUp s',
          'rejoin workflow s',
          'uptime before the rejoin',
        ],
        ...rows,
      ]),
    );
    console.log(`total ${s(Date.now() - t0)} s`);
    await done();
  }
}
