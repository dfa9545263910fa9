/**
 * Bench: our log digest vs pgBadger (-j 1, JSON output) on the same stderr log of >= 200 MB written by
 * real PostgreSQL 15 (pgbench with log_min_duration_statement = 0, plus errors, slow statements with
 * auto_explain plans, temp files, checkpoints, autovacuum, connections).
 *
 *   npm run bench -- digest [--size-mb 200] [--log <file>...] [--regenerate]
 *
 * The generated log is kept in bench/results/digest-log/ and reused; results go to
 * bench/results/digest-<time>.json. Both tools run as child processes measured by /usr/bin/time
 * (wall time and peak RSS); our digest also reports its own digest-only time.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { digestFiles } from '../functions/logdigest/digest';
import { DEFAULT_PREFIX } from '../functions/logdigest/entry';
import type { DigestReport } from '../functions/logdigest/report';
import { ScratchPg } from '../test/integration/support/scratch-pg';

const run$ = promisify(execFile);
const RESULTS = path.resolve(__dirname, 'results');
const LOG_DIR = path.join(RESULTS, 'digest-log');
const PG_BIN = '/usr/lib/postgresql/15/bin';

interface Measured {
  wall_s: number;
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
async function generateLog(targetBytes: number): Promise<void> {
  const pg = await ScratchPg.start({
    port: 25800 + (process.pid % 100),
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
function timed(cmd: string, args: string[]): Promise<{ wall_s: number; peak_rss_mb: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /TIME ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${cmd} failed (${code}): ${err.slice(-2000)}`));
      resolve({ wall_s: Number(m[1]), peak_rss_mb: Number(m[2]) / 1024, stderr: err });
    });
  });
}

async function runOurs(files: string[], bytes: number, out: string): Promise<{ m: Measured; report: DigestReport }> {
  const t = await timed(process.execPath, ['--require', 'tsx/cjs', __filename, '--child', out, ...files]);
  const child = JSON.parse(await fs.readFile(out + '.timing', 'utf8')) as { digest_s: number };
  const report = JSON.parse(await fs.readFile(out, 'utf8')) as DigestReport;
  return {
    m: {
      wall_s: t.wall_s,
      peak_rss_mb: t.peak_rss_mb,
      digest_s: child.digest_s,
      mb_per_s: bytes / 1e6 / child.digest_s,
    },
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
    m: { wall_s: t.wall_s, peak_rss_mb: t.peak_rss_mb, mb_per_s: bytes / 1e6 / t.wall_s },
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
  const targetBytes = Number(argValue(argv, '--size-mb') ?? 200) * 1e6;
  let files: string[] = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === '--log') files.push(argv[++i]);
  if (files.length === 0) {
    files = await existingLog('.log');
    if (argv.includes('--regenerate') || (await sizeOf(files)) < targetBytes) {
      process.stdout.write(
        `generating a ${(targetBytes / 1e6).toFixed(0)} MB log with real PostgreSQL 15 (pgbench)...\n`,
      );
      await generateLog(targetBytes);
      files = await existingLog('.log');
    }
  }
  const bytes = await sizeOf(files);
  await fs.mkdir(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  process.stdout.write(`digesting ${(bytes / 1e6).toFixed(1)} MB (${files.length} file(s)) with pgwarden digest...\n`);
  const ours = await runOurs(files, bytes, path.join(RESULTS, `digest-ours-${stamp}.json`));
  const jsonFiles = argv.includes('--log') ? [] : await existingLog('.json');
  let oursJsonlog: Measured | undefined;
  if (jsonFiles.length > 0) {
    const jb = await sizeOf(jsonFiles);
    oursJsonlog = (await runOurs(jsonFiles, jb, path.join(RESULTS, `digest-ours-jsonlog-${stamp}.json`))).m;
  }
  process.stdout.write('digesting the same log with pgbadger -j 1 (JSON output)...\n');
  const pgb = await runPgBadger(files, bytes, path.join(RESULTS, `digest-pgbadger-${stamp}.json`));
  const figures = compare(ours.report, pgb.report);
  const result = {
    bench: 'digest',
    at: new Date().toISOString(),
    input: { files, bytes, format: 'stderr', lines: ours.report.input.lines },
    ours: ours.m,
    ours_jsonlog: oursJsonlog,
    pgbadger: pgb.m,
    speedup: ours.m.mb_per_s / pgb.m.mb_per_s,
    figures,
    notes: [
      'MB = 10^6 bytes. Our throughput is over the digest itself (child process; wall time also includes Node/tsx start-up); pgBadger throughput is over its wall time.',
      'Peak RSS is the maximum resident set size of each process (/usr/bin/time %M).',
    ],
  };
  const file = path.join(RESULTS, `digest-${stamp}.json`);
  await fs.writeFile(file, JSON.stringify(result, null, 2));
  const line = (name: string, m: Measured) =>
    `| ${name} | ${m.mb_per_s.toFixed(1)} | ${(m.digest_s ?? m.wall_s).toFixed(2)} | ${m.wall_s.toFixed(2)} | ${m.peak_rss_mb.toFixed(0)} |`;
  const out = [
    '',
    `input: ${(bytes / 1e6).toFixed(1)} MB stderr log, ${ours.report.input.lines} lines, written by PostgreSQL 15`,
    '',
    '| tool | MB/s | digest s | wall s | peak RSS MB |',
    '| --- | --- | --- | --- | --- |',
    line('pgwarden digest (stderr)', ours.m),
    ...(oursJsonlog ? [line('pgwarden digest (jsonlog of the same run)', oursJsonlog)] : []),
    line('pgbadger -j 1', pgb.m),
    '',
    `speed-up: ${result.speedup.toFixed(1)}x`,
    '',
    '| figure | pgwarden | pgBadger | agree | note |',
    '| --- | --- | --- | --- | --- |',
    ...figures.map((f) => `| ${f.figure} | ${f.ours} | ${f.pgbadger} | ${f.agree ? 'yes' : 'no'} | ${f.note ?? ''} |`),
    '',
    `results: ${path.relative(process.cwd(), file)}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
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
