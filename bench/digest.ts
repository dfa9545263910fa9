/**
 * Bench: `bin/pgwarden digest` (what a user runs: the bundled CLI, start-up included) against
 * pgBadger -j 1 (JSON output), in the same run on the same files, for two small stderr logs and a
 * large one written by real PostgreSQL 15 (pgbench with log_min_duration_statement = 0, plus errors,
 * slow statements with auto_explain plans, temp files, checkpoints, autovacuum, connections).
 *
 *   npm run bench -- digest [--size-mb 18] [--copies 2] [--repeat 3] [--log <file>...] [--regenerate] [--port N]
 *
 * A log of at least --size-mb is generated once into bench/results/digest-log/ and reused (pgbench
 * writes ~45 MB a round); the small logs are its first 10 MB (the smallest size the goal is for,
 * where start-up weighs most) and its first --size-mb, the large one all of it --copies times. Prints
 * MB/s, the ratio to pgBadger and peak RSS for each; results go to bench/results/digest-<time>.json.
 * Each log is timed --repeat times (both tools in turn) and the median run of each tool is reported,
 * with every run in the results file: on a shared machine one run can be off by a factor of two.
 * Goal: >= 30x pgBadger -j 1 on any log from 10 MB up, peak RSS < 150 MB.
 * Needs Debian's pgbadger (apt-get install pgbadger).
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { digestFiles } from '../functions/logdigest/digest';
import { DEFAULT_PREFIX } from '../functions/logdigest/entry';
import type { DigestReport } from '../functions/logdigest/report';
import { ScratchPg } from '../test/integration/support/scratch-pg';
import { machine } from './util';

const run$ = promisify(execFile);
const BIN = path.resolve(__dirname, '..', 'bin', 'pgwarden');
const RESULTS = path.resolve(__dirname, 'results');
const LOG_DIR = path.join(RESULTS, 'digest-log');
const PG_BIN = '/usr/lib/postgresql/15/bin';
/** The smallest log the goal (>= 30x pgBadger) is for. */
const MIN_GOAL_BYTES = 10e6;

interface Measured {
  wall_s: number;
  /** user + system CPU seconds: the fairer figure on a machine shared with other work */
  cpu_s?: number;
  peak_rss_mb: number;
  digest_s?: number;
  mb_per_s: number;
}

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function sizeOf(files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += (await fs.stat(f)).size;
  return n;
}

async function existingLog(kind: '.log' | '.json'): Promise<string[]> {
  try {
    return (await fs.readdir(LOG_DIR))
      .filter((n) => n.endsWith(kind))
      .sort()
      .map((n) => path.join(LOG_DIR, n));
  } catch {
    return [];
  }
}

/** Runs pgbench rounds against a scratch PG15 until its stderr log reaches `targetBytes`. */
export async function generateLog(targetBytes: number, port: number): Promise<void> {
  const pg = await ScratchPg.start({
    port,
    extraConf: [
      // the canonical pgBadger setting: every statement with its duration, no log_statement
      "log_statement = 'none'",
      'log_min_duration_statement = 0',
      'max_connections = 50',
      "checkpoint_timeout = '30s'",
      "autovacuum_naptime = '5s'",
    ],
  });
  const env = {
    ...process.env,
    PGHOST: '127.0.0.1',
    PGPORT: String(pg.port),
    PGUSER: 'postgres',
    PGDATABASE: 'postgres',
  };
  const pgbench = (args: string[]) => run$(path.join(PG_BIN, 'pgbench'), args, { env, maxBuffer: 1 << 26 });
  try {
    await pgbench(['-i', '-s', '10', '-q']);
    const side = await pg.client('bench-side');
    for (let round = 0; ; round++) {
      const size = await sizeOf(await pg.logFiles('stderr'));
      process.stdout.write(`  log ${(size / 1e6).toFixed(0)} MB of ${(targetBytes / 1e6).toFixed(0)} MB\n`);
      if (size >= targetBytes) break;
      const mode = ['simple', 'extended', 'prepared'][round % 3];
      const args = ['-c', '4', '-j', '2', '-T', '15', '-M', mode, '-n'];
      if (round % 4 === 3) args.push('-C'); // a connection per transaction: sessions and connections
      await pgbench(args);
      // what pgbench does not produce: errors, slow statements with plans, temp files, a checkpoint
      for (let i = 0; i < 20; i++) await side.query('SELECT 1/0').catch(() => undefined);
      await side.query('SELECT pg_sleep(0.3)');
      await side.query("SET work_mem = '64kB'");
      await side.query('SELECT aid FROM pgbench_accounts ORDER BY abalance, aid DESC LIMIT 10 OFFSET 100000');
      await side.query('RESET work_mem');
      if (round % 2 === 0) await side.query('CHECKPOINT');
    }
    await side.end();
    await pg.stop();
    await fs.rm(LOG_DIR, { recursive: true, force: true });
    await fs.mkdir(LOG_DIR, { recursive: true });
    for (const f of [...(await pg.logFiles('stderr')), ...(await pg.logFiles('jsonlog'))]) {
      await fs.copyFile(f, path.join(LOG_DIR, path.basename(f)));
    }
  } finally {
    await pg.destroy();
  }
}

/** Runs a command under /usr/bin/time: wall seconds and peak RSS. */
function timed(
  cmd: string,
  args: string[],
): Promise<{ wall_s: number; cpu_s: number; peak_rss_mb: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Wall time from this process's clock, to the microsecond: GNU time's %e has two decimals, 5% of
    // a 0.18 s run, and the ratio would move by that much with the rounding. It includes GNU time's
    // own start (about 1 ms), for both tools alike. CPU and peak RSS come from GNU time.
    const started = process.hrtime.bigint();
    const p = spawn('/usr/bin/time', ['-f', 'TIME %e %M %U %S', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const wall_s = Number(process.hrtime.bigint() - started) / 1e9;
      const m = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${cmd} failed (${code}): ${err.slice(-2000)}`));
      resolve({
        wall_s,
        cpu_s: Number(m[3]) + Number(m[4]),
        peak_rss_mb: Number(m[2]) / 1024,
        stderr: err,
      });
    });
  });
}

/** `bin/pgwarden digest` as a user runs it (the program, not `node bin/pgwarden`), under /usr/bin/time. */
async function runOurs(files: string[], bytes: number, out: string): Promise<{ m: Measured; report: DigestReport }> {
  const t = await timed(BIN, ['digest', ...files, '--format', 'json', '--output', out]);
  const report = JSON.parse(await fs.readFile(out, 'utf8')) as DigestReport;
  return {
    m: { wall_s: t.wall_s, cpu_s: t.cpu_s, peak_rss_mb: t.peak_rss_mb, mb_per_s: bytes / 1e6 / t.wall_s },
    report,
  };
}

async function runPgBadger(
  files: string[],
  bytes: number,
  out: string,
): Promise<{ m: Measured; report: PgBadgerJson }> {
  const t = await timed('/usr/bin/pgbadger', [
    '-j',
    '1',
    '-f',
    'stderr',
    '--prefix',
    DEFAULT_PREFIX,
    '-q',
    '--no-progressbar',
    '-o',
    out,
    ...files,
  ]);
  return {
    m: { wall_s: t.wall_s, cpu_s: t.cpu_s, peak_rss_mb: t.peak_rss_mb, mb_per_s: bytes / 1e6 / t.wall_s },
    report: JSON.parse(await fs.readFile(out, 'utf8')),
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type PgBadgerJson = Record<string, any>;

const sum = (o: Record<string, any> | undefined, f: (v: any) => number) =>
  Object.values(o ?? {}).reduce((a: number, v) => a + f(v), 0);

/** The figures both tools report, side by side, with the reason when they differ by design. */
function compare(ours: DigestReport, pgb: PgBadgerJson) {
  const ov = pgb.overall_stat ?? {};
  const pgbErrors = Object.values(pgb.error_info?.postgres ?? {}) as any[];
  const loggedAs = (sev: RegExp) =>
    pgbErrors.filter((e) => sev.test(String(e.error?.[0] ?? ''))).reduce((a, e) => a + e.count, 0);
  const plans = Number(/(\d+) auto_explain plans read/.exec(ours.notes.join(' '))?.[1] ?? 0);
  const byType = ov.postgres ?? {};
  const rows: { figure: string; ours: number; pgbadger: number; note?: string }[] = [
    {
      figure: 'statements',
      ours: ours.totals.statements,
      pgbadger: ov.queries_number ?? 0,
      note: `pgBadger also counts the ${plans} auto_explain plans as queries`,
    },
    {
      figure: 'statements - auto_explain plans (pgBadger)',
      ours: ours.totals.statements,
      pgbadger: (ov.queries_number ?? 0) - plans,
    },
    {
      figure: 'SELECT',
      ours: ours.statements_by_type.select,
      pgbadger: byType.select ?? 0,
      note: 'plans counted again by pgBadger',
    },
    { figure: 'INSERT', ours: ours.statements_by_type.insert, pgbadger: byType.insert ?? 0 },
    { figure: 'UPDATE', ours: ours.statements_by_type.update, pgbadger: byType.update ?? 0 },
    { figure: 'DELETE', ours: ours.statements_by_type.delete, pgbadger: byType.delete ?? 0 },
    {
      figure: 'statement time (s)',
      ours: Math.round(ours.totals.duration_ms) / 1000,
      pgbadger: Math.round(byType.queries_duration?.execute ?? 0) / 1000,
      note: 'pgBadger adds plan durations',
    },
    {
      figure: 'errors (all pgBadger "errors")',
      ours: ours.totals.errors + ours.totals.errors_by_severity.WARNING,
      pgbadger: ov.errors_number ?? 0,
      note: 'pgBadger counts some LOG lines as errors',
    },
    {
      figure: 'errors logged as ERROR/FATAL/PANIC',
      ours: ours.totals.errors,
      pgbadger: loggedAs(/^(ERROR|FATAL|PANIC):/),
    },
    { figure: 'connections', ours: ours.totals.connections, pgbadger: pgb.connection_info?.postgres?.count ?? 0 },
    { figure: 'sessions', ours: ours.totals.sessions, pgbadger: pgb.session_info?.postgres?.count ?? 0 },
    {
      figure: 'session time (s)',
      ours: Math.round(ours.sessions.total_duration_s),
      pgbadger: Math.round((pgb.session_info?.postgres?.duration ?? 0) / 1000),
    },
    {
      figure: 'checkpoint buffers written',
      ours: ours.checkpoints.buffers_written,
      pgbadger: sum(pgb.overall_checkpoint?.peak, (p) => p.checkpoint_wbuffer ?? 0),
    },
    { figure: 'temp files', ours: ours.totals.temp_files, pgbadger: pgb.tempfile_info?.postgres?.count ?? 0 },
    { figure: 'temp bytes', ours: ours.totals.temp_bytes, pgbadger: pgb.tempfile_info?.postgres?.size ?? 0 },
    {
      figure: 'lock waits ended (acquired)',
      ours: ours.lock_waits.acquired,
      pgbadger: sum(pgb.lock_info?.postgres, (l) => l.count ?? 0),
    },
    {
      figure: 'autovacuum',
      ours: ours.totals.autovacuum,
      pgbadger: sum(pgb.autovacuum_info?.postgres?.tables ?? pgb.autovacuum_info?.postgres, (t) =>
        typeof t === 'object' ? (t.vacuums ?? t.count ?? 0) : 0,
      ),
    },
    {
      figure: 'autoanalyze',
      ours: ours.totals.autoanalyze,
      pgbadger: sum(pgb.autoanalyze_info?.postgres?.tables ?? pgb.autoanalyze_info?.postgres, (t) =>
        typeof t === 'object' ? (t.analyzes ?? t.count ?? 0) : 0,
      ),
    },
  ];
  return rows.map((r) => ({ ...r, agree: r.ours === r.pgbadger }));
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export async function run(argv: string[]): Promise<void> {
  const targetBytes = Number(argValue(argv, '--size-mb') ?? 18) * 1e6;
  const copies = Number(argValue(argv, '--copies') ?? 2);
  const repeat = Math.max(1, Number(argValue(argv, '--repeat') ?? 3));
  const port = Number(argValue(argv, '--port') ?? 25800 + (process.pid % 100));
  if (!(await fs.stat('/usr/bin/pgbadger').catch(() => undefined)))
    throw new Error('pgbadger is not installed: apt-get install pgbadger');
  let files: string[] = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === '--log') files.push(argv[++i]);
  if (files.length === 0) {
    files = await existingLog('.log');
    if (argv.includes('--regenerate') || (await sizeOf(files)) < targetBytes) {
      process.stdout.write(
        `generating a ${(targetBytes / 1e6).toFixed(0)} MB log with real PostgreSQL 15 (pgbench)...\n`,
      );
      await generateLog(targetBytes, port);
      files = await existingLog('.log');
    }
  }
  await fs.mkdir(RESULTS, { recursive: true });
  // The small logs: the first 10 MB and the first --size-mb of the generated one, each cut at a line
  // end; the large one: the whole generated log `copies` times over.
  const whole = Buffer.concat(await Promise.all(files.map((f) => fs.readFile(f))));
  const smallLogs: [string, string[]][] = [];
  for (const bytes of [...new Set([MIN_GOAL_BYTES, targetBytes])].sort((a, b) => a - b)) {
    const cut = whole.indexOf(10, Math.min(bytes, whole.length - 1));
    const mb = (bytes / 1e6).toFixed(0);
    const small = path.join(RESULTS, `digest-small-${mb}mb.log`);
    await fs.writeFile(small, whole.subarray(0, cut < 0 ? whole.length : cut + 1));
    smallLogs.push([`small-${mb}`, [small]]);
  }
  const large = path.join(RESULTS, `digest-large-x${copies}.log`);
  await fs.writeFile(large, '');
  for (let c = 0; c < copies; c++) await fs.appendFile(large, whole);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // Once before timing: the first digest after a change of its sources builds its bundle
  // (bin/digest-bundle.js), a one-time cost like an install's, not part of reading a log.
  await timed(BIN, ['digest', '--help']);
  const runs = [];
  for (const [name, input] of [...smallLogs, ['large', [large]] as [string, string[]]]) {
    const bytes = await sizeOf([...input]);
    process.stdout.write(
      `${name}: ${(bytes / 1e6).toFixed(1)} MB, pgwarden digest then pgbadger -j 1, ${repeat} time(s)...\n`,
    );
    const oursRuns = [];
    const pgbRuns = [];
    for (let r = 0; r < repeat; r++) {
      oursRuns.push(await runOurs([...input], bytes, path.join(RESULTS, `digest-ours-${name}-${stamp}.json`)));
      pgbRuns.push(await runPgBadger([...input], bytes, path.join(RESULTS, `digest-pgbadger-${name}-${stamp}.json`)));
    }
    const ours = medianRun(oursRuns);
    const pgb = medianRun(pgbRuns);
    runs.push({
      name,
      files: input,
      bytes,
      lines: ours.report.input.lines,
      ours,
      pgb,
      oursAll: oursRuns.map((x) => x.m),
      pgbAll: pgbRuns.map((x) => x.m),
      ratio: pgb.m.wall_s / ours.m.wall_s,
      cpuRatio: (pgb.m.cpu_s ?? 0) / (ours.m.cpu_s ?? 1),
    });
  }
  // the figures of the --size-mb log (the last small one), as in earlier results
  const figuresRun = runs[smallLogs.length - 1];
  const figures = compare(figuresRun.ours.report, figuresRun.pgb.report);
  const result = {
    bench: 'digest',
    at: new Date().toISOString(),
    runs: runs.map((r) => ({
      log: r.name,
      files: r.files,
      bytes: r.bytes,
      lines: r.lines,
      pgwarden: r.ours.m,
      pgbadger: r.pgb.m,
      pgwarden_runs: r.oursAll,
      pgbadger_runs: r.pgbAll,
      ratio: r.ratio,
      cpu_ratio: r.cpuRatio,
    })),
    figures,
    notes: [
      'MB = 10^6 bytes. Both tools are timed as a user runs them (wall time of the whole process, start-up included), one after the other on the same files.',
      "Wall time is read from the bench's own clock around /usr/bin/time (which adds about 1 ms to both tools); CPU time and peak RSS from /usr/bin/time.",
      'Peak RSS is the maximum resident set size of each process (/usr/bin/time %M).',
      `Each log was timed ${repeat} time(s), the two tools in turn; pgwarden and pgbadger are each tool's median run by wall time (all runs in *_runs), and the ratios are between the two medians.`,
    ],
  };
  const file = path.join(RESULTS, `digest-${stamp}.json`);
  await fs.writeFile(file, JSON.stringify({ machine: machine(), ...result }, null, 2));
  const out = [
    '',
    `stderr logs written by PostgreSQL 15; wall time of each process, start-up included; median of ${repeat} run(s) of each tool`,
    '',
    '| log | MB | pgwarden s (CPU s) | pgwarden MB/s | pgwarden peak RSS MB | pgBadger -j 1 s (CPU s) | pgBadger MB/s | pgBadger peak RSS MB | ratio (CPU ratio) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map(
      (r) =>
        `| ${r.name} | ${(r.bytes / 1e6).toFixed(1)} | ${r.ours.m.wall_s.toFixed(3)} (${r.ours.m.cpu_s?.toFixed(2)}) | ${r.ours.m.mb_per_s.toFixed(1)} | ${r.ours.m.peak_rss_mb.toFixed(0)} | ${r.pgb.m.wall_s.toFixed(3)} (${r.pgb.m.cpu_s?.toFixed(2)}) | ${r.pgb.m.mb_per_s.toFixed(1)} | ${r.pgb.m.peak_rss_mb.toFixed(0)} | ${r.ratio.toFixed(1)}x (${r.cpuRatio.toFixed(1)}x) |`,
    ),
    '',
    `| figure (${figuresRun.name} log) | pgwarden | pgBadger | agree | note |`,
    '| --- | --- | --- | --- | --- |',
    ...figures.map((f) => `| ${f.figure} | ${f.ours} | ${f.pgbadger} | ${f.agree ? 'yes' : 'no'} | ${f.note ?? ''} |`),
    '',
    `results: ${path.relative(process.cwd(), file)}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
}

/** The run with the median wall time (the upper one of the middle two for an even count). */
function medianRun<T extends { m: Measured }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.m.wall_s - b.m.wall_s)[Math.floor(runs.length / 2)];
}

/** Child mode: digest the files, write the report and the digest-only time. */
async function child(argv: string[]): Promise<void> {
  const [out, ...files] = argv;
  const t0 = process.hrtime.bigint();
  const report = await digestFiles(files);
  const digest_s = Number(process.hrtime.bigint() - t0) / 1e9;
  await fs.writeFile(out, JSON.stringify(report));
  await fs.writeFile(out + '.timing', JSON.stringify({ digest_s }));
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const p = argv[0] === '--child' ? child(argv.slice(1)) : run(argv);
  p.catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
