/**
 * `npm run bench -- failover [--drills N] [--paths pgpool,alarm,ec2,operator,native] [--profile lab|aws-sim]
 * [--fault kill|freeze|partition] [--connections session|per-write] [--warmup-ms MS] [--port-base N] [--keep DIR]`:
 * N drills per
 * trigger path under write load, each on a fresh lab, plus pgpool-II's own native failover
 * (failover_command + follow_primary_command, health_check_period 1) as the baseline. RTO is the
 * longest gap between two acknowledged writes around the fault (default: SIGKILL of the primary;
 * freeze and partition leave its instance running, so the EC2 path is left out). Prints a table and
 * writes JSON. --keep DIR keeps each drill's lab, stopped, in DIR/<path>-<n> (its logs: pgpool's
 * under pgpools/pgpool1/log, PostgreSQL's under nodes/<name>/log, the workflow in `pgwarden history`).
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  endFault,
  failoverDrill,
  faultProblem,
  parseFault,
  FAULT_WORDS,
  gaps,
  injectFault,
  labApi,
  missingWrites,
  startWriteLoad,
  WRITER_CONNECT_TIMEOUT_MS,
  type ClientError,
  type Fault,
  type TriggerPath,
  type WriterConnections,
} from '../infra/local/drill';
import { AWS_SIM_LATENCIES } from '../infra/local/aws-sim';
import { Lab, profileByName } from '../infra/local/lab';
import { waitFor } from '../infra/local/proc';
import { saveResults, stats, table } from './util';

type Path = TriggerPath | 'native';

interface Drill {
  path: Path;
  rtoMs: number | null;
  lost: number;
  acknowledged: number;
  /** Writers' statements that failed with their ended session; writers' new connections that failed. */
  endedSessions: number;
  failedConnects: number;
  /** What the writers' drivers said, by kind and message (recorded in the results file). */
  clientErrors: ClientError[];
  workflowMs?: number;
  outcome: string;
  steps?: { state: string; durationMs?: number; offsetMs: number }[];
  checksFailed?: string[];
}

/**
 * Where the bench's labs live: --port-base (default 27100) and --profile (default lab); the fault;
 * how the writers connect (--connections session|per-write, default session).
 */
const opts = {
  portBase: 27100,
  profile: 'lab',
  fault: 'kill' as Fault,
  connections: 'session' as WriterConnections,
  /** How long the write load runs before the fault (--warmup-ms): pgpool's children pool connections meanwhile. */
  warmupMs: 500,
  /** --keep: where each drill's lab stays, stopped, for its logs; none: each is removed. */
  keepDir: undefined as string | undefined,
};

/** A drill's lab folder: DIR/<path>-<n> with --keep, else a fresh temporary one. */
function drillDir(path: Path, n: number): string {
  if (!opts.keepDir) return mkdtempSync(join(tmpdir(), `pgw-bench-${path === 'native' ? 'native' : 'failover'}-`));
  const dir = join(opts.keepDir, `${path}-${n}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function nativeDrill(n: number): Promise<Drill> {
  const dir = drillDir('native', n);
  cpSync(join(__dirname, 'native'), join(dir, 'bench-scripts'), { recursive: true });
  const lab = new Lab({
    dir,
    portBase: opts.portBase,
    profile: opts.profile,
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
    const load = await startWriteLoad(lab, { connections: opts.connections });
    await waitFor('writes', () => load.acked.length > 50, 10_000);
    await new Promise((r) => setTimeout(r, opts.warmupMs));
    const killAt = Date.now();
    injectFault(lab, opts.fault, primary);
    await waitFor('writes to resume', () => load.acked.some((a) => a.at > killAt + 50), 60_000, 20);
    const settle = Date.now() + 3000;
    await waitFor('a settled window', () => Date.now() > settle, 10_000);
    await load.stop();
    endFault(lab, opts.fault, primary);
    const g = gaps(load.acked, killAt, Date.now());
    return {
      path: 'native',
      rtoMs: g.longest,
      lost: await missingWrites(lab, load.acked),
      acknowledged: load.acked.length,
      endedSessions: load.endedSessions,
      failedConnects: load.failedConnects,
      clientErrors: load.clientErrors(),
      outcome: 'pgpool promoted',
    };
  } finally {
    await lab.down({ purge: !opts.keepDir });
  }
}

async function pgwardenDrill(path: TriggerPath, n: number): Promise<Drill> {
  const lab = new Lab({
    dir: drillDir(path, n),
    portBase: opts.portBase,
    profile: opts.profile,
    log: () => undefined,
  });
  try {
    await lab.up();
    // aws-sim: the kill lands anywhere in the 10 s alarm cadence, as a real failure would.
    const jitter = opts.profile === 'aws-sim' ? Math.floor(Math.random() * AWS_SIM_LATENCIES.alarmPeriod.ms) : 0;
    const r = await failoverDrill(lab, {
      trigger: path,
      fault: opts.fault,
      connections: opts.connections,
      warmupMs: opts.warmupMs + jitter,
    });
    return {
      path,
      rtoMs: r.rtoMs,
      lost: r.lostWrites,
      acknowledged: r.acknowledged,
      endedSessions: r.endedSessions,
      failedConnects: r.failedConnects,
      clientErrors: r.clientErrors,
      workflowMs: r.workflowMs,
      outcome: r.outcome,
      steps: r.steps,
      checksFailed: Object.keys(r.checks).filter((k) => !r.checks[k]),
    };
  } finally {
    await lab.down({ purge: !opts.keepDir });
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      drills: { type: 'string' },
      paths: { type: 'string' },
      profile: { type: 'string' },
      'port-base': { type: 'string' },
      fault: { type: 'string' },
      connections: { type: 'string' },
      'warmup-ms': { type: 'string' },
      keep: { type: 'string' },
    },
    strict: true,
  });
  if (values.keep !== undefined) {
    if (existsSync(values.keep) && readdirSync(values.keep).length > 0)
      throw new Error(`--keep ${values.keep}: the folder is not empty (each drill's lab goes into a new subfolder)`);
    opts.keepDir = resolve(values.keep);
  }
  const connections = values.connections ?? 'session';
  if (connections !== 'session' && connections !== 'per-write')
    throw new Error(`--connections must be session or per-write, not ${connections}`);
  opts.connections = connections;
  if (values['warmup-ms'] !== undefined) {
    const w = Number(values['warmup-ms']);
    if (!Number.isInteger(w) || w < 0) throw new Error(`--warmup-ms must be a whole number of milliseconds`);
    opts.warmupMs = w;
  }
  const fault = parseFault(values.fault);
  opts.fault = fault;
  const n = Number(values.drills ?? 5);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--drills must be a positive integer, got ${values.drills}`);
  opts.profile = profileByName(values.profile).name;
  opts.portBase = Number(values['port-base'] ?? 27100);
  if (!Number.isInteger(opts.portBase) || opts.portBase < 1024 || opts.portBase > 65000)
    throw new Error(`--port-base must be an integer port, got ${values['port-base']}`);
  const paths = (values.paths ?? `pgpool,alarm,${fault === 'kill' ? 'ec2,' : ''}operator,native`).split(',') as Path[];
  for (const p of paths) {
    const why = p === 'native' ? undefined : faultProblem(fault, p);
    if (why) throw new Error(`--fault ${fault} with path ${p}: ${why}`);
  }
  const drills: Drill[] = [];
  for (const p of paths) {
    for (let i = 0; i < n; i++) {
      const d = p === 'native' ? await nativeDrill(i + 1) : await pgwardenDrill(p, i + 1);
      drills.push(d);
      console.error(
        `  ${p} #${i + 1}: RTO ${d.rtoMs} ms, lost ${d.lost}, ended sessions ${d.endedSessions}, failed new connections ${d.failedConnects}, ${d.outcome}${d.checksFailed?.length ? `, checks failed: ${d.checksFailed.join(' ')}` : ''}`,
      );
      // Why new connections failed (refused, cut off, timed out) is what tells pgpool's part from the client's.
      for (const e of d.clientErrors.filter((x) => x.kind === 'failed-connect'))
        console.error(`      ${e.count} x failed new connection: ${e.message}`);
    }
  }
  const rows: (string | number)[][] = [
    [
      'trigger path',
      'drills',
      'RTO median ms',
      'min',
      'max',
      'workflow median ms',
      'lost writes per drill',
      'failed new connections per drill',
    ],
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
      ds.map((d) => d.failedConnects).join(' '),
    ]);
    summary[p] = {
      rto: r,
      workflow: w,
      lost: ds.map((d) => d.lost),
      endedSessions: ds.map((d) => d.endedSessions),
      failedConnects: ds.map((d) => d.failedConnects),
    };
  }
  const prof = profileByName(opts.profile);
  console.log(
    `\nfailover under write load (4 writers through pgpool, ${opts.connections === 'per-write' ? 'a connection per write' : 'one session each'}, connect timeout ${WRITER_CONNECT_TIMEOUT_MS} ms), ${FAULT_WORDS[opts.fault].title} of the primary; profile ${prof.name}: ${prof.alarmPeriodS} s alarm period, ${prof.probeIntervalMs / 1000} s probe, pgpool health check every ${prof.healthCheckPeriodS} s (timeout ${prof.healthCheckTimeoutS} s, ${prof.healthCheckRetries} retries)${prof.name === 'aws-sim' ? '; AWS latencies simulated (infra/local/aws-sim.ts): figures are SIMULATED AWS, not measured in AWS' : '; measured in the lab'}\n`,
  );
  console.log(table(rows));
  // Time per step (median over the drills of each path), from the workflow's execution history.
  for (const p of paths.filter((x) => x !== 'native')) {
    const ds = drills.filter((d) => d.path === p && d.steps);
    const states = [...new Set(ds.flatMap((d) => d.steps!.map((s) => s.state)))];
    const stepRows: (string | number)[][] = [
      ['step (' + p + ')', 'start offset median ms', 'duration median ms', 'max'],
    ];
    for (const st of states) {
      const xs = ds.flatMap((d) => d.steps!.filter((s) => s.state === st && s.durationMs !== undefined));
      const dur = stats(xs.map((s) => s.durationMs!));
      const off = stats(xs.map((s) => s.offsetMs));
      stepRows.push([st, off.median.toFixed(0), dur.median.toFixed(0), dur.max]);
    }
    console.log(`\n${table(stepRows)}`);
    (summary[p] as Record<string, unknown>).steps = stepRows.slice(1);
  }
  const native = summary.native as { rto: { median: number } } | undefined;
  const best = summary.pgpool as { rto: { median: number } } | undefined;
  if (native && best)
    console.log(
      `\npgwarden (pgpool path) median RTO / native median: ${(best.rto.median / native.rto.median).toFixed(2)}x (target <= 2x, <= 1000 ms)`,
    );
  console.log(
    `results: ${saveResults('failover', {
      profile: opts.profile,
      fault: opts.fault,
      connections: opts.connections,
      warmupMs: opts.warmupMs,
      drills,
      summary,
    })}`,
  );
  if (opts.keepDir)
    console.log(
      `labs kept, stopped, in ${opts.keepDir}/<path>-<n>: pgpool's log under pgpools/pgpool1/log, PostgreSQL's under nodes/<name>/log; remove each with PGWARDEN_LAB_DIR=<lab> pgwarden lab down --purge (it also removes the shared memory a killed postmaster left)`,
    );
}
