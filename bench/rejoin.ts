/**
 * Rejoin bench: time to bring a failed primary back as a streaming standby by pg_rewind vs by
 * pg_basebackup, for a small database and a large one (default 1 GB). Each case: a table of the
 * given size, a failover by SIGKILL of the primary (the failover workflow), then the rejoin workflow
 * with METHOD forced; the time is the rejoin workflow's, its rewind step shown apart.
 * Usage: npm run bench -- rejoin [--sizes-mb 10,1024] [--dir LAB_DIR | --port-base N]
 */
import { executions, labApi } from '../infra/local/drill';
import { waitFor } from '../infra/local/proc';
import { argValue, benchLab, PROFILE_NOTE, table } from './planned-lab';

interface Exec {
  status: string;
  durationMs: number;
  steps: { state: string; durationMs?: number }[];
  output?: { rewind?: { method: string; durationMs: number } };
}

export async function run(argv: string[]): Promise<void> {
  const sizes = (argValue(argv, '--sizes-mb') ?? '10,1024').split(',').map(Number);
  const { lab, done } = await benchLab(argv, 27100);
  const rows: (string | number)[][] = [];
  try {
    for (const mb of sizes) {
      await lab.waitReady(60_000);
      const primary = lab.readTopology().primary;
      await lab.query(primary, 'drop table if exists bench_rejoin', [], 10_000);
      // ~1 MB per 7000 rows of 140 bytes.
      await lab.query(
        primary,
        `create table bench_rejoin as select g, repeat('x', 120) as pad from generate_series(1, ${Math.round(mb * 7000)}) g`,
        [],
        3_600_000,
      );
      for (const method of ['rewind', 'basebackup'] as const) {
        await lab.waitReady(120_000);
        const old = lab.readTopology().primary;
        const known = new Set((await executions(lab)).map((e) => e.name));
        await labApi(lab, 'POST', '/v1/sensors', { ec2: false });
        lab.kill(old);
        await waitFor(
          'the failover',
          async () =>
            (await executions(lab)).find(
              (e) => !known.has(e.name) && e.workflow === 'failover' && e.status !== 'RUNNING' && e.output?.promote,
            ),
          120_000,
          200,
        );
        const r = await labApi<{ execution: Exec }>(lab, 'POST', '/v1/rejoin', { node: old, method, wait: true });
        await labApi(lab, 'POST', '/v1/sensors', { ec2: true });
        const e = r.execution;
        rows.push([`${mb} MB`, method, e.status, e.output?.rewind?.durationMs ?? '-', e.durationMs]);
      }
    }
    console.log(`rejoin bench (failed primary back as a standby); ${PROFILE_NOTE}`);
    console.log(table(['database', 'method', 'status', 'rewind/copy ms', 'rejoin workflow ms'], rows));
  } finally {
    await done();
  }
}
