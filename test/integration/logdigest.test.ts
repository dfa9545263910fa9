/**
 * The digest against logs that real PostgreSQL 15 writes during the test, with the project's logging
 * configuration (infra/node/postgresql.logging.conf): a known workload, counted exactly.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import { digestFiles } from '../../functions/logdigest/digest';
import type { DigestReport } from '../../functions/logdigest/report';
import { ScratchPg } from './support/scratch-pg';

const N_INSERTS = 40;
const N_PARAM_INSERTS = 15;
const K_ERRORS = 7; // 22012 division_by_zero
const PORT = 25600 + (process.pid % 200);

jest.setTimeout(180000);

/** The report with what legitimately differs between two inputs of the same period removed. */
const comparable = (r: DigestReport) =>
  JSON.parse(JSON.stringify({ ...r, input: null, generated_at: null }).replace(/"source":"[^"]*"/g, '"source":""'));

describe('nightly digest of logs written by PostgreSQL 15', () => {
  let pg: ScratchPg;
  const clients: Client[] = [];
  let tempFilesByStats = 0;
  let stderrFiles: string[];
  let jsonFiles: string[];
  let stderrReport: DigestReport;

  beforeAll(async () => {
    pg = await ScratchPg.start({ port: PORT });
    const open = async (app: string) => {
      const c = await pg.client(app);
      clients.push(c);
      return c;
    };
    const mon = await open('monitor');
    const a = await open('session-a');
    const b = await open('session-b');
    const c = await open('batch');
    const pidA = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const waiting = async (pid: number) => {
      const deadline = Date.now() + 30000;
      while ((await mon.query('SELECT 1 FROM pg_locks WHERE NOT granted AND pid = $1', [pid])).rowCount === 0) {
        if (Date.now() > deadline) throw new Error(`pid ${pid} never waited for a lock`);
      }
    };
    const tempFiles = async () =>
      Number(
        (await mon.query("SELECT temp_files FROM pg_stat_database WHERE datname = 'postgres'")).rows[0].temp_files,
      );

    // N inserts, simple and extended protocol
    await a.query('CREATE TABLE items (id int PRIMARY KEY, v text)');
    for (let i = 1; i <= N_INSERTS - N_PARAM_INSERTS; i++)
      await a.query(`INSERT INTO items VALUES (${i}, 'item ${i}')`);
    for (let i = N_INSERTS - N_PARAM_INSERTS + 1; i <= N_INSERTS; i++) {
      await a.query('INSERT INTO items VALUES ($1, $2)', [i, `multi\nline ${i}`]);
    }
    // K errors of one SQLSTATE
    for (let i = 0; i < K_ERRORS; i++) await expect(c.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });

    // a lock wait longer than deadlock_timeout
    await a.query('BEGIN');
    await a.query("UPDATE items SET v = 'a' WHERE id = 1");
    const blocked = b.query("UPDATE items SET v = 'b' WHERE id = 1");
    await pg.waitForLog(/still waiting for ShareLock/);
    await a.query('COMMIT');
    await blocked;

    // a deadlock: only session B runs the deadlock check in time (A's deadlock_timeout is 60 s)
    await a.query("SET deadlock_timeout = '60s'");
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query("UPDATE items SET v = 'a' WHERE id = 1");
    await b.query("UPDATE items SET v = 'b' WHERE id = 2");
    const aWaits = a.query("UPDATE items SET v = 'a' WHERE id = 2");
    await waiting(pidA);
    await expect(b.query("UPDATE items SET v = 'b' WHERE id = 1")).rejects.toMatchObject({ code: '40P01' });
    await b.query('ROLLBACK');
    await aWaits;
    await a.query('COMMIT');

    // temp files: a sort that does not fit in work_mem
    const before = await tempFiles();
    await c.query("SET work_mem = '64kB'");
    await c.query('SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC');
    await c.query('SELECT pg_stat_force_next_flush()');
    tempFilesByStats = (await tempFiles()) - before;

    await mon.query('CHECKPOINT');

    for (const cl of clients) await cl.end();
    await pg.waitForLog(/disconnection: session time/, { count: clients.length });
    await pg.waitForLog(/disconnection: session time/, { count: clients.length, kind: 'jsonlog' });
    stderrFiles = await pg.logFiles('stderr');
    jsonFiles = await pg.logFiles('jsonlog');
    stderrReport = await digestFiles(stderrFiles);
  });

  afterAll(async () => {
    for (const cl of clients) await cl.end().catch(() => undefined);
    await pg?.destroy();
  });

  it('counts the workload exactly', () => {
    const r = stderrReport;
    expect(r.input.skipped_lines).toBe(0);
    expect(r.statements_by_type).toMatchObject({ insert: N_INSERTS, update: 6, ddl: 1, delete: 0 });
    const inserts = r.top_queries_by_count.find((q) => q.query === 'insert into items values (?)');
    expect(inserts?.count).toBe(N_INSERTS);
    expect(r.errors_by_sqlstate.find((e) => e.sqlstate === '22012')).toMatchObject({
      count: K_ERRORS,
      by_severity: { ERROR: K_ERRORS },
    });
    expect(r.errors_by_sqlstate.find((e) => e.sqlstate === '40P01')).toMatchObject({ count: 1 });
    expect(r.totals).toMatchObject({
      errors: K_ERRORS + 1,
      deadlocks: 1,
      lock_waits: 1,
      checkpoints: 1,
      connections: clients.length,
      sessions: clients.length,
    });
    expect(r.totals.errors_by_severity).toEqual({ WARNING: 0, ERROR: K_ERRORS + 1, FATAL: 0, PANIC: 0 });
    expect(tempFilesByStats).toBeGreaterThan(0);
    expect(r.totals.temp_files).toBe(tempFilesByStats);
    expect(r.temp_files.top_queries[0]).toMatchObject({
      query: 'select g from generate_series (?) g order by g desc',
      count: tempFilesByStats,
    });
    expect(r.checkpoints.by_reason).toEqual([{ name: 'requested', count: 1 }]);
    expect(r.checkpoints.buffers_written).toBeGreaterThan(0);
    expect(r.lock_waits).toMatchObject({ acquired: 1, by_lock_mode: [{ name: 'ShareLock', count: 1 }] });
    expect(r.connections.by_application.map((x) => x.name).sort()).toEqual([
      'batch',
      'monitor',
      'session-a',
      'session-b',
    ]);
    expect(r.deadlocks.events[0].statement).toBe("UPDATE items SET v = 'b' WHERE id = 1");
  });

  it('pairs the blocked statements with their durations and auto_explain plans, counting them once', () => {
    const r = stderrReport;
    // the waiting UPDATEs exceeded log_min_duration_statement: their durations and plans were logged
    const slowUpdates = r.slowest.filter((s) => s.query.startsWith('UPDATE items'));
    expect(slowUpdates.length).toBeGreaterThanOrEqual(2);
    for (const s of slowUpdates) {
      expect(s.duration_ms).toBeGreaterThan(250);
      expect(s.plan).toMatch(/^Query Text: UPDATE items/);
    }
  });

  it('gives the same figures from the jsonlog of the same period', async () => {
    const j = await digestFiles(jsonFiles);
    expect(j.input.skipped_lines).toBe(0);
    expect(comparable(j)).toEqual(comparable(stderrReport));
  });

  it('digests logs with garbage lines and a truncated last line, and says how many it skipped', async () => {
    const dir = path.join(pg.dir, 'damaged');
    await fs.mkdir(dir, { recursive: true });
    const damage = async (file: string, garbage: string[], truncateAt: number) => {
      const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.length > 0);
      const out = [...lines];
      garbage.forEach((g, i) => out.splice(Math.floor(((i + 1) * out.length) / (garbage.length + 1)), 0, g));
      // a copy cut in the middle of a line, as when the disk filled up or the copy was interrupted
      const truncated = out.join('\n') + '\n' + lines[0].slice(0, truncateAt);
      const target = path.join(dir, path.basename(file));
      await fs.writeFile(target, truncated);
      return target;
    };
    const stderr = await damage(
      stderrFiles[0],
      ['garbage line', '\u0000\u0001 binary junk', 'rm: cannot remove file'],
      15,
    );
    const json = await damage(jsonFiles[0], ['not json', '{"half": "an object"'], 40);

    const rs = await digestFiles([stderr]);
    expect(rs.input.skipped_lines).toBe(4);
    expect(comparable(rs)).toEqual(comparable(stderrReport));

    const rj = await digestFiles([json]);
    expect(rj.input.skipped_lines).toBe(3);
    expect(rj.totals).toEqual(stderrReport.totals);
  });
});
