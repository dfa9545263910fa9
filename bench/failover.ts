/**
 * `npm run bench -- failover [--drills N] [--paths pgpool,alarm,ec2,operator,native]`: N drills per
 * trigger path under write load, each on a fresh lab, plus pgpool-II's own native failover
 * (failover_command + follow_primary_command, health_check_period 1) as the baseline. RTO is the
 * longest gap between two acknowledged writes around the kill. Prints a table and writes JSON.
 */
import { chmodSync, cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { failoverDrill, gaps, labApi, missingWrites, startWriteLoad, type TriggerPath } from '../infra/local/drill';
import { Lab } from '../infra/local/lab';
import { waitFor } from '../infra/local/proc';
import { saveResults, stats, table } from './util';

type Path = TriggerPath | 'native';

interface Drill {
  path: Path;
  rtoMs: number | null;
  lost: number;
  acknowledged: number;
  workflowMs?: number;
  outcome: string;
}

async function nativeDrill(): Promise<Drill> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-bench-native-'));
  cpSync(join(__dirname, 'native'), join(dir, 'bench-scripts'), { recursive: true });
  const lab = new Lab({
    dir,
    portBase: 27100,
    log: () => undefined,
    pgpoolEnv: {
      PGW_FAILOVER_COMMAND: `${dir}/bench-scripts/failover.sh %d %h %p %m %H %r %P`,
      PGW_FOLLOW_PRIMARY_COMMAND: `${dir}/bench-scripts/follow.sh %d %h %p %m %H %r %P`,
      PGW_TRIGGER_CMD: 'true',
    },
  });
  try {
    await lab.up();
    for (const f of ['failover.sh', 'follow.sh']) chmodSync(join(dir, 'bench-scripts', f), 0o755);
    await labApi(lab, 'POST', '/v1/sensors', { pgpool: false, alarm: false, ec2: false });
    const primary = lab.readTopology().primary;
    const load = await startWriteLoad(lab);
    await waitFor('writes', () => load.acked.length > 50, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const killAt = Date.now();
    lab.kill(primary);
    await waitFor('writes to resume', () => load.acked.some((a) => a.at > killAt + 50), 60_000, 20);
    const settle = Date.now() + 3000;
    await waitFor('a settled window', () => Date.now() > settle, 10_000);
    await load.stop();
    const g = gaps(load.acked, killAt, Date.now());
    return {
      path: 'native',
      rtoMs: g.longest,
      lost: await missingWrites(lab, load.acked),
      acknowledged: load.acked.length,
      outcome: 'pgpool promoted',
    };
  } finally {
    await lab.down({ purge: true });
  }
}

async function pgwardenDrill(path: TriggerPath): Promise<Drill> {
  const lab = new Lab({
    dir: mkdtempSync(join(tmpdir(), 'pgw-bench-failover-')),
    portBase: 27100,
    log: () => undefined,
  });
  try {
    await lab.up();
    const r = await failoverDrill(lab, { trigger: path });
    return {
      path,
      rtoMs: r.rtoMs,
      lost: r.lostWrites,
      acknowledged: r.acknowledged,
      workflowMs: r.workflowMs,
      outcome: r.outcome,
    };
  } finally {
    await lab.down({ purge: true });
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { drills: { type: 'string' }, paths: { type: 'string' } },
    strict: true,
  });
  const n = Number(values.drills ?? 5);
  const paths = (values.paths ?? 'pgpool,alarm,ec2,operator,native').split(',') as Path[];
  const drills: Drill[] = [];
  for (const p of paths) {
    for (let i = 0; i < n; i++) {
      const d = p === 'native' ? await nativeDrill() : await pgwardenDrill(p);
      drills.push(d);
      console.error(`  ${p} #${i + 1}: RTO ${d.rtoMs} ms, lost ${d.lost}, ${d.outcome}`);
    }
  }
  const rows: (string | number)[][] = [
    ['trigger path', 'drills', 'RTO median ms', 'min', 'max', 'workflow median ms', 'lost writes per drill'],
  ];
  const summary: Record<string, unknown> = {};
  for (const p of paths) {
    const ds = drills.filter((d) => d.path === p);
    const r = stats(ds.map((d) => d.rtoMs ?? NaN));
    const w = stats(ds.filter((d) => d.workflowMs !== undefined).map((d) => d.workflowMs!));
    rows.push([
      p === 'native' ? 'pgpool native (baseline)' : `pgwarden via ${p}`,
      ds.length,
      r.median.toFixed(0),
      r.min,
      r.max,
      Number.isNaN(w.median) ? '-' : w.median.toFixed(0),
      ds.map((d) => d.lost).join(' '),
    ]);
    summary[p] = { rto: r, workflow: w, lost: ds.map((d) => d.lost) };
  }
  console.log(
    '\nfailover under write load (4 writers through pgpool), SIGKILL of the primary; lab profile: 1 s alarm period, 0.5 s probe, pgpool health check 1 s\n',
  );
  console.log(table(rows));
  const native = summary.native as { rto: { median: number } } | undefined;
  const best = summary.pgpool as { rto: { median: number } } | undefined;
  if (native && best)
    console.log(
      `\npgwarden (pgpool path) median RTO / native median: ${(best.rto.median / native.rto.median).toFixed(2)}x (target <= 2x, <= 1000 ms)`,
    );
  console.log(`results: ${saveResults('failover', { drills, summary })}`);
}
