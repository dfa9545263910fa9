import path from 'node:path';
import { Digest, digestFiles } from '../../../functions/logdigest/digest';
import { DigestReport } from '../../../functions/logdigest/report';

const fixture = (n: string) => path.join(__dirname, 'fixtures', n);
const H = (pid: number, ms = '01:00:00.000', state = '00000') =>
  `2026-11-26 ${ms} UTC [${pid}] ${state} alice@shop app=web client=10.0.0.7 `;
const BG = (pid: number, ms = '01:00:00.000') => `2026-11-26 ${ms} UTC [${pid}] 00000 `;

async function digestLines(lines: string[], opts = {}): Promise<DigestReport> {
  const d = new Digest(opts);
  await d.addLines('node-1', lines);
  return d.report();
}

describe('digest of a log written by PostgreSQL 15 (fixture)', () => {
  let r: DigestReport;
  beforeAll(async () => {
    r = await digestFiles([fixture('pg15-sample.stderr')]);
  });

  it('counts each statement once, auto_explain plans included', () => {
    expect(r.totals.statements).toBe(13);
    expect(r.statements_by_type).toMatchObject({ select: 4, insert: 2, update: 6, ddl: 1 });
    expect(r.notes.join(' ')).toMatch(/6 auto_explain plans read/);
    // every slow statement got its plan, whether it was logged before or after the duration line
    expect(r.slowest.every((s) => s.plan?.startsWith('Query Text: '))).toBe(true);
    const param = r.slowest.find((s) => s.query.startsWith('SELECT $1::int'));
    expect(param).toMatchObject({ parameters: "$1 = '5'" });
  });

  it('reports errors, locks, temp files, checkpoints and sessions', () => {
    expect(r.totals).toMatchObject({
      errors: 2,
      connections: 3,
      sessions: 3,
      checkpoints: 1,
      temp_files: 2,
      temp_bytes: 2645184,
      lock_waits: 1,
      deadlocks: 1,
    });
    expect(r.errors_by_sqlstate.map((e) => [e.sqlstate, e.count])).toEqual([
      ['22012', 1],
      ['40P01', 1],
    ]);
    expect(r.checkpoints).toMatchObject({ buffers_written: 42, by_reason: [{ name: 'requested', count: 1 }] });
    expect(r.lock_waits).toMatchObject({ acquired: 1, by_lock_mode: [{ name: 'ShareLock', count: 1 }] });
    expect(r.lock_waits.max_wait_ms).toBeGreaterThan(1000);
    expect(r.deadlocks.events[0].detail).toMatch(/waits for ShareLock/);
    expect(r.input).toMatchObject({ lines: 98, skipped_lines: 0 });
  });

  it('gives the same report from the jsonlog of the same period', async () => {
    const j = await digestFiles([fixture('pg15-sample.jsonlog')]);
    const strip = (x: DigestReport) =>
      JSON.parse(
        JSON.stringify({ ...x, input: null, generated_at: null }).replaceAll(/pg15-sample\.(stderr|jsonlog)/g, 'src'),
      );
    expect(strip(j)).toEqual(strip(r));
  });
});

describe('statement accounting', () => {
  it('pairs a bare duration line with the statement log_statement logged, per process', async () => {
    const r = await digestLines([
      H(1) + "LOG:  statement: UPDATE t SET v='a' WHERE id=1",
      H(2) + 'LOG:  statement: INSERT INTO t VALUES (9)',
      H(1) + 'LOG:  duration: 400.000 ms',
      H(2) + 'LOG:  duration: 300.000 ms',
      H(2) + 'LOG:  duration: 1.000 ms',
    ]);
    expect(r.totals.statements).toBe(2);
    expect(r.totals.duration_ms).toBe(700);
    expect(r.slowest.map((s) => [s.pid, s.duration_ms])).toEqual([
      [1, 400],
      [2, 300],
    ]);
    expect(r.notes.join(' ')).toMatch(/1 duration lines had no statement/);
  });

  it('does not count parse/bind durations, counts execute', async () => {
    const r = await digestLines([
      H(1) + 'LOG:  duration: 0.050 ms  parse <unnamed>: SELECT $1',
      H(1) + 'LOG:  duration: 0.020 ms  bind <unnamed>: SELECT $1',
      H(1) + 'LOG:  duration: 0.100 ms  execute <unnamed>: SELECT $1',
      H(1) + "DETAIL:  parameters: $1 = '1'",
    ]);
    expect(r.totals.statements).toBe(1);
    expect(r.top_queries_by_count[0]).toMatchObject({ query: 'select ?', count: 1, timed: 1, total_ms: 0.1 });
  });

  it('computes count, total, mean, max and p95 per normalized query', async () => {
    const lines = Array.from(
      { length: 20 },
      (_, i) => H(1) + `LOG:  duration: ${i + 1}.000 ms  statement: SELECT * FROM t WHERE id = ${i}`,
    );
    const r = await digestLines(lines);
    expect(r.top_queries_by_total_time[0]).toMatchObject({
      query: 'select * from t where id = ?',
      count: 20,
      total_ms: 210,
      mean_ms: 10.5,
      max_ms: 20,
      p95_ms: 19,
    });
  });

  it('keeps severities as logged and groups errors by SQLSTATE', async () => {
    const r = await digestLines([
      H(1, '01:00:00.000', '42P01') + 'ERROR:  relation "a" does not exist at character 15',
      H(1, '01:00:00.000', '42P01') + 'STATEMENT:  select * from a',
      H(1, '01:00:01.000', '42P01') + 'ERROR:  relation "b" does not exist at character 15',
      H(1, '01:00:02.000', '57P01') + 'FATAL:  terminating connection due to administrator command',
      H(1, '01:00:03.000', '01000') + 'WARNING:  there is no transaction in progress',
      H(2) + 'LOG:  process 2 still waiting for ShareLock on transaction 5 after 1000.1 ms',
      BG(3) + 'LOG:  skipping analyze of "t" --- lock not available',
    ]);
    expect(r.totals.errors).toBe(3);
    expect(r.totals.errors_by_severity).toEqual({ WARNING: 1, ERROR: 2, FATAL: 1, PANIC: 0 });
    expect(r.errors_by_sqlstate[0]).toMatchObject({ sqlstate: '42P01', count: 2, by_severity: { ERROR: 2 } });
    expect(r.top_error_messages[0]).toMatchObject({ message: 'relation "?" does not exist at character ?', count: 2 });
    expect(r.totals.lock_waits).toBe(1);
    expect(r.autovacuum.skipped).toBe(1);
  });

  it('filters by --since/--until', async () => {
    const r = await digestLines(
      [
        H(1, '00:59:59.999') + 'LOG:  statement: DELETE FROM t',
        H(1, '01:00:00.000') + 'LOG:  statement: DELETE FROM t',
        H(1, '02:00:00.000') + 'LOG:  statement: DELETE FROM t',
      ],
      { since: new Date('2026-11-26T01:00:00Z'), until: new Date('2026-11-26T02:00:00Z') },
    );
    expect(r.totals.statements).toBe(1);
    expect(r.input.out_of_range).toBe(2);
  });

  it('bounds the number of normalized queries it keeps', async () => {
    const d = new Digest({ maxQueries: 100 });
    const sink = d.source('n', 'stderr');
    for (let i = 0; i < 1000; i++) sink.line(H(1) + `LOG:  duration: 1.0 ms  statement: SELECT * FROM t${i % 500}`);
    for (let i = 0; i < 50; i++) sink.line(H(1) + 'LOG:  duration: 1.0 ms  statement: SELECT 1');
    sink.end();
    const r = d.report();
    expect(r.totals.statements).toBe(1050);
    expect(r.top_queries_by_count[0]).toMatchObject({ query: 'select ?', count: 50 });
    expect(r.notes.join(' ')).toMatch(/dropped to bound memory/);
  });
});

describe('background activity', () => {
  it('reads autovacuum, autoanalyze, checkpoint warnings, restartpoints and failover events', async () => {
    const r = await digestLines([
      BG(10) + 'LOG:  automatic vacuum of table "shop.public.orders": index scans: 1',
      '\tpages: 0 removed, 10 remain, 10 scanned (100.00% of total)',
      '\ttuples: 25 removed, 100 remain, 0 are dead but not yet removable',
      BG(10) + 'LOG:  automatic analyze of table "shop.public.orders"',
      BG(11) +
        'LOG:  automatic aggressive vacuum to prevent wraparound of table "shop.pg_catalog.pg_class": index scans: 0',
      BG(12) + 'LOG:  checkpoints are occurring too frequently (5 seconds apart)',
      BG(12) + 'HINT:  Consider increasing the configuration parameter "max_wal_size".',
      BG(12) + 'LOG:  checkpoint starting: wal',
      BG(12) +
        'LOG:  checkpoint complete: wrote 100 buffers (0.6%); 1 WAL file(s) added, 2 removed, 3 recycled; write=1.5 s, sync=0.1 s, total=1.700 s; sync files=3, longest=0.1 s, average=0.1 s; distance=1 kB, estimate=1 kB',
      BG(13) + 'LOG:  restartpoint starting: time',
      BG(13) +
        'LOG:  restartpoint complete: wrote 7 buffers (0.0%); 0 WAL file(s) added, 0 removed, 0 recycled; write=0.1 s, sync=0.1 s, total=0.2 s; sync files=1, longest=0.1 s, average=0.1 s; distance=1 kB, estimate=1 kB',
      BG(14) + 'LOG:  received promote request',
      BG(14) + 'LOG:  redo done at 0/3000148 system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.00 s',
      BG(14) + 'LOG:  selected new timeline ID: 2',
      BG(14) + 'LOG:  archive recovery complete',
      BG(15) + 'LOG:  database system is ready to accept connections',
    ]);
    expect(r.totals).toMatchObject({ autovacuum: 2, autoanalyze: 1, checkpoints: 1 });
    expect(r.autovacuum).toMatchObject({
      tuples_removed: 25,
      tables: [
        { table: 'shop.public.orders', vacuum: 1, analyze: 1 },
        { table: 'shop.pg_catalog.pg_class', vacuum: 1, analyze: 0 },
      ],
    });
    expect(r.checkpoints).toMatchObject({
      count: 1,
      restartpoints: 1,
      buffers_written: 100,
      wal_added: 1,
      wal_removed: 2,
      wal_recycled: 3,
      max_total_s: 1.7,
      warnings: 1,
    });
    expect(r.checkpoints.by_reason).toEqual(
      expect.arrayContaining([
        { name: 'wal', count: 1 },
        { name: 'restartpoint time', count: 1 },
      ]),
    );
    expect(r.replication).toMatchObject({ promotions: 1, timeline_changes: 1 });
    expect(r.replication.events.map((e) => e.kind)).toEqual(['promotion', 'recovery', 'timeline', 'recovery', 'ready']);
    expect(r.totals.errors).toBe(0);
  });

  it('computes connections per database/user/application and the session peak', async () => {
    const r = await digestLines([
      H(1, '01:00:00.000') + 'LOG:  connection authorized: user=alice database=shop application_name=web',
      H(2, '01:00:00.500') + 'LOG:  connection authorized: user=bob database=shop',
      H(3, '01:00:01.000') + 'LOG:  replication connection authorized: user=repl application_name=node-2',
      H(1, '01:00:02.000') +
        'LOG:  disconnection: session time: 0:00:02.000 user=alice database=shop host=10.0.0.7 port=1',
      H(2, '01:00:03.000') +
        'LOG:  disconnection: session time: 0:01:00.500 user=bob database=shop host=10.0.0.7 port=2',
    ]);
    expect(r.totals).toMatchObject({ connections: 3, sessions: 2 });
    expect(r.connections.by_database).toEqual([
      { name: 'shop', count: 2 },
      { name: '[replication]', count: 1 },
    ]);
    expect(r.connections.by_application.find((x) => x.name === 'web')?.count).toBe(1);
    expect(r.connections.peak_per_second).toEqual({ count: 2, time: '2026-11-26T01:00:00.000Z' });
    expect(r.sessions).toMatchObject({ total_duration_s: 62.5, peak_concurrent: { count: 3 } });
  });
});
