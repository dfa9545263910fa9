/**
 * Switchover bench: N planned switchovers (default 5) under a write load through pgpool; for each,
 * the write-unavailability window measured as the longest gap between two acknowledged writes (from
 * the request until 1.5 s after the workflow ended, so that pgpool's re-attach of the old primary
 * counts too), the switch's own phases, client errors (statements of ended sessions, failed new
 * connections), lost acknowledged writes and each run's execution (its steps in `pgwarden history`;
 * with --dir the lab and its logs stay for a look).
 * Usage: npm run bench -- switchover [--runs N] [--writers N] [--dir LAB_DIR | --port-base N]
 */
import { gaps, labApi, missingWrites, startWriteLoad } from '../infra/local/drill';
import { waitFor } from '../infra/local/proc';
import { argValue, benchLab, PROFILE_NOTE } from './planned-lab';
import { median, table } from './util';

interface Exec {
  name: string;
  status: string;
  durationMs: number;
  error?: { Error: string; Cause: string };
  output?: {
    switch?: { oldPrimary: string; newPrimary: string; stopMs: number; catchUpMs: number; promoteMs: number };
  };
}

export async function run(argv: string[]): Promise<void> {
  const runs = Number(argValue(argv, '--runs') ?? 5);
  const writers = Number(argValue(argv, '--writers') ?? 4);
  const { lab, done } = await benchLab(argv, 27000);
  const rows: (string | number)[][] = [];
  const windows: number[] = [];

  try {
    const load = await startWriteLoad(lab, { writers, table: 'bench_switchover' });
    try {
      await waitFor('the write load', () => load.acked.length > 100, 10_000);
      // The end of the previous run's settle window: gaps() looks 2 s back from a run's start, and a
      // pause that began in the previous run (already counted there) would be counted again.
      let since = 0;
      for (let i = 1; i <= runs; i++) {
        await lab.waitReady(60_000);
        const ended0 = load.endedSessions;
        const failed0 = load.failedConnects;
        const t0 = Date.now();
        const r = await labApi<{ execution: Exec }>(lab, 'POST', '/v1/switchover', {
          wait: true,
          reason: `bench run ${i}`,
        });
        const end = Date.now() + 1500;
        await waitFor('the settle window', () => Date.now() > end, 5000);
        const g = gaps(
          load.acked.filter((a) => a.at >= since),
          t0,
          Date.now(),
        );
        since = Date.now();
        const sw = r.execution.output?.switch;
        windows.push(g.longest);
        // pgpool (seen with 4.3) restarts all its children at once only when the old primary is its main node
        // (the first backend up, here backend 0); otherwise the children that exited during the
        // failover come back a second later. The column shows which case each run was.
        const backend = lab.readTopology().nodes.find((n) => n.name === sw?.oldPrimary)?.backendId ?? '-';
        rows.push([
          i,
          sw ? `${sw.oldPrimary} -> ${sw.newPrimary}` : r.execution.status,
          backend,
          g.longest,
          sw?.stopMs ?? '-',
          sw?.catchUpMs ?? '-',
          sw?.promoteMs ?? '-',
          r.execution.durationMs,
          load.endedSessions - ended0,
          load.failedConnects - failed0,
          r.execution.name,
        ]);
      }
    } finally {
      await load.stop();
    }
    const lostTotal = await missingWrites(lab, load.acked, 'bench_switchover');
    console.log(`switchover bench: ${runs} runs, ${writers} writers through pgpool; ${PROFILE_NOTE}`);
    console.log(
      table([
        [
          'run',
          'switch',
          'old primary backend',
          'window ms',
          'stop ms',
          'catch-up ms',
          'promote ms',
          'workflow ms',
          'ended sessions',
          'failed new connections',
          'execution (pgwarden history)',
        ],
        ...rows,
      ]),
    );
    console.log(
      `write window (longest gap between acknowledged writes): median ${median(windows)} ms, max ${Math.max(...windows)} ms; ` +
        `acknowledged writes lost: ${lostTotal} of ${load.acked.length}`,
    );
    // What the writers' drivers said, all runs together: why new connections failed, if any did.
    for (const e of load.clientErrors()) console.log(`  ${e.count} x ${e.kind}: ${e.message}`);
  } finally {
    await done();
  }
}
