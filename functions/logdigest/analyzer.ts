/**
 * The aggregation: reads LogEntry values one at a time and keeps only bounded state (per-query
 * aggregates with a cap, per-process pending statements with a cap, top-N lists), so memory does not
 * grow with the size of the log.
 */
import { BoundedCounter, NameCounter } from './counter';
import { decimalAt } from './decimal';
import type { LogEntry } from './entry';
import { detach, normalizeQuery, StatementType } from './normalize';
import { DigestReport, FORMAT_VERSION, QueryStats, Severity, SlowStatement, TIMELINE_SERIES } from './report';
import { QuantileSketch } from './sketch';

export interface AnalyzerOptions {
  since?: Date;
  until?: Date;
  /** Length of each top list (queries, slowest, tables...). Default 20. */
  top?: number;
  /** Normalized queries kept at once (beyond: the least frequent half is dropped). Default 5000. */
  maxQueries?: number;
}

interface QueryAgg {
  count: number;
  query: string;
  type: StatementType;
  timed: number;
  total: number;
  sketch: QuantileSketch;
  example: string;
}

interface Pending {
  agg: QueryAgg;
  text: string;
  e: LogEntry;
  parameters?: string;
}

interface ProcState {
  pending?: Pending;
  /**
   * The last timed statement, so that an auto_explain plan logged after it can join it: its text, and
   * its entry in the slowest list when it made it there (built only then: most statements never do).
   */
  lastTimed?: { text: string; slow?: SlowStatement; planned: boolean };
  /** A plan logged before its statement's duration line. */
  plan?: { text: string; queryText: string };
}

const STATEMENT_TYPES: StatementType[] = ['select', 'insert', 'update', 'delete', 'copy', 'ddl', 'tcl', 'other'];
const ERROR_SEVERITIES = new Set(['ERROR', 'FATAL', 'PANIC']);
const MAX_TEXT = 4000;
const MAX_PLAN = 16000;
const MAX_PROCS = 20000;
const MAX_EVENTS = 200;
// Timeline series, by index into a minute's counters (the order of TIMELINE_SERIES).
const T_STATEMENTS = 0;
const T_ERRORS = 1;
const T_CONNECTIONS = 2;
const T_CHECKPOINTS = 3;
const T_TEMP_FILES = 4;
const T_LOCK_WAITS = 5;
const T_AUTOVACUUM = 6;
const T_AUTOANALYZE = 7;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Truncated and detached from the read chunk it was sliced from (retained strings must not pin chunks). */
const clip = (s: string, n: number) => detach(s.length > n ? s.slice(0, n) + ' ...' : s);
const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : '');
const round = (v: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/** Replication, failover and server life-cycle messages worth a line in the incident timeline. */
const EVENT_PATTERNS: [RegExp, string][] = [
  [/^received promote request/, 'promotion'],
  [/^promote trigger file found/, 'promotion'],
  [/^selected new timeline ID: \d+/, 'timeline'],
  [/^new target timeline is \d+/, 'timeline'],
  [/^archive recovery complete/, 'recovery'],
  [/^redo done at/, 'recovery'],
  [/^consistent recovery state reached/, 'recovery'],
  [/^database system was interrupted/, 'crash_recovery'],
  [/^database system was not properly shut down/, 'crash_recovery'],
  [/^server process \(PID \d+\) was terminated/, 'crash'],
  [/^terminating any other active server processes/, 'crash'],
  [/^all server processes terminated; reinitializing/, 'crash'],
  [/^database system is ready to accept connections/, 'ready'],
  [/^database system is ready to accept read-only connections/, 'ready_read_only'],
  [/^started streaming WAL from primary/, 'streaming_started'],
  [/^replication terminated by primary server/, 'streaming_lost'],
  [/^could not receive data from WAL stream/, 'streaming_lost'],
  [/^could not connect to the primary server/, 'streaming_lost'],
  [/^terminating walreceiver/, 'streaming_lost'],
  [/^standby ".*" is now a (synchronous|candidate) standby/, 'sync_standby'],
  [/^received (smart|fast|immediate) shutdown request/, 'shutdown'],
  [/^database system is shut down/, 'shutdown'],
  [/^starting PostgreSQL/, 'startup'],
  [/^entering standby mode/, 'standby'],
];

export class Analyzer {
  private readonly since: number;
  private readonly until: number;
  private readonly top: number;

  // input
  entries = 0;
  outOfRange = 0;
  private firstTs = Infinity;
  private lastTs = -Infinity;

  // statements
  private statements = 0;
  private durationMs = 0;
  private readonly byType: Record<StatementType, number> = Object.fromEntries(
    STATEMENT_TYPES.map((t) => [t, 0]),
  ) as Record<StatementType, number>;
  private readonly queries: BoundedCounter<QueryAgg>;
  private readonly procs = new Map<number, ProcState>();
  private slowest: SlowStatement[] = [];
  private plans = 0;
  private plansUnmatched = 0;
  private orphanDurations = 0;
  private protocolDurations = 0;

  // errors
  private readonly bySeverity: Record<Severity, number> = { WARNING: 0, ERROR: 0, FATAL: 0, PANIC: 0 };
  private readonly bySqlstate = new BoundedCounter<{ count: number; sev: Record<string, number>; example: string }>(
    1000,
    () => ({ count: 0, sev: {}, example: '' }),
  );
  private readonly errorMessages = new BoundedCounter<{
    count: number;
    severity: string;
    sqlstate: string;
    message: string;
  }>(2000, () => ({ count: 0, severity: '', sqlstate: '', message: '' }));

  // locks
  private lockWaits = 0;
  private lockAcquired = 0;
  private lockMaxWait = 0;
  private lockTotalWait = 0;
  private readonly lockModes = new NameCounter(100);
  private readonly lockQueries = new NameCounter(1000);
  private deadlocks = 0;
  private deadlockEvents: DigestReport['deadlocks']['events'] = [];

  // checkpoints
  private readonly cp = {
    count: 0,
    restartpoints: 0,
    buffers: 0,
    added: 0,
    removed: 0,
    recycled: 0,
    maxTotal: 0,
    warnings: 0,
  };
  private readonly cpReasons = new NameCounter(50);

  // autovacuum
  private vacuums = 0;
  private analyzes = 0;
  private avSkipped = 0;
  private tuplesRemoved = 0;
  private readonly tables = new BoundedCounter<{ count: number; vacuum: number; analyze: number }>(5000, () => ({
    count: 0,
    vacuum: 0,
    analyze: 0,
  }));

  // temp files
  private tempFiles = 0;
  private tempBytes = 0;
  private tempMax = 0;
  private readonly tempQueries = new BoundedCounter<{ count: number; bytes: number }>(1000, () => ({
    count: 0,
    bytes: 0,
  }));

  // connections and sessions
  private connections = 0;
  private received = 0;
  private replicationConnections = 0;
  private readonly perSecond = new Map<number, number>();
  private readonly connDb = new NameCounter();
  private readonly connUser = new NameCounter();
  private readonly connApp = new NameCounter();
  private readonly connClient = new NameCounter();
  private sessions = 0;
  private sessionSeconds = 0;
  private readonly sessDb = new NameCounter();
  private readonly sessUser = new NameCounter();
  private readonly sessApp = new NameCounter();
  /** Per source: running (authorized - disconnected), its minimum, and the peak seen. */
  private readonly concurrency = new Map<string, { cur: number; min: number; max: number; maxTs: number }>();

  // replication
  private promotions = 0;
  private timelineChanges = 0;
  private replicationCommands = 0;
  private readonly eventKinds = new NameCounter(100);
  private events: DigestReport['replication']['events'] = [];

  // timeline: counters per minute (epoch minute -> one counter per series), those without a time apart
  private readonly minutes = new Map<number, Uint32Array>();
  private readonly untimed = new Uint32Array(TIMELINE_SERIES.length);
  private lastMinute = NaN;
  private lastCounters: Uint32Array = this.untimed;

  constructor(opts: AnalyzerOptions = {}) {
    this.since = opts.since ? opts.since.getTime() : -Infinity;
    this.until = opts.until ? opts.until.getTime() : Infinity;
    this.top = opts.top ?? 20;
    this.queries = new BoundedCounter(opts.maxQueries ?? 5000, (query) => ({
      count: 0,
      query,
      type: 'other',
      timed: 0,
      total: 0,
      sketch: new QuantileSketch(),
      example: '',
    }));
  }

  /** Feed one entry. Never throws on content it does not understand: it is counted and ignored. */
  add(e: LogEntry): void {
    if (e.ts < this.since || e.ts >= this.until) {
      this.outOfRange++;
      return;
    }
    this.entries++;
    if (e.ts < this.firstTs) this.firstTs = e.ts;
    if (e.ts > this.lastTs) this.lastTs = e.ts;
    const sev = e.severity;
    if (sev === 'LOG') this.log(e);
    else if (sev === 'ERROR' || sev === 'FATAL' || sev === 'PANIC' || sev === 'WARNING') this.error(e);
  }

  /** One more of series `i` in the minute of `ts`. */
  private tick(ts: number, i: number): void {
    if (!Number.isFinite(ts)) {
      this.untimed[i]++;
      return;
    }
    const m = Math.floor(ts / MINUTE);
    if (m !== this.lastMinute) {
      let c = this.minutes.get(m);
      if (!c) {
        c = new Uint32Array(TIMELINE_SERIES.length);
        this.minutes.set(m, c);
      }
      this.lastMinute = m;
      this.lastCounters = c;
    }
    this.lastCounters[i]++;
  }

  // ---------------------------------------------------------------- LOG lines

  private log(e: LogEntry): void {
    const m = e.message;
    switch (m.charCodeAt(0)) {
      case 100: // d
        if (m.startsWith('duration: ')) return this.duration(e, m);
        if (m.startsWith('disconnection: ')) return this.disconnection(e, m);
        break;
      case 115: // s
        if (m.startsWith('statement: ')) return this.statement(e, m.slice(11), undefined);
        if (m.startsWith('skipping vacuum of') || m.startsWith('skipping analyze of')) {
          this.avSkipped++;
          return;
        }
        break;
      case 101: // e
        if (m.startsWith('execute ')) {
          const colon = m.indexOf(': ');
          if (colon > 0) return this.statement(e, m.slice(colon + 2), undefined);
        }
        break;
      case 99: // c
        if (m.startsWith('connection authorized: ')) return this.connection(e, m, false);
        if (m.startsWith('connection received: ')) {
          this.received++;
          return;
        }
        if (m.startsWith('checkpoint ')) return this.checkpoint(e, m, 'checkpoint');
        if (m.startsWith('checkpoints are occurring too frequently')) {
          this.cp.warnings++;
          return;
        }
        break;
      case 114: // r
        if (m.startsWith('restartpoint ')) return this.checkpoint(e, m, 'restartpoint');
        if (m.startsWith('replication connection authorized: ')) return this.connection(e, m, true);
        if (m.startsWith('received replication command: ')) {
          this.replicationCommands++;
          return;
        }
        break;
      case 97: // a
        if (m.startsWith('automatic ')) return this.autovacuum(e, m);
        break;
      case 116: // t
        if (m.startsWith('temporary file: ')) return this.tempFile(e, m);
        break;
      case 112: // p
        if (m.startsWith('process ')) return this.lock(e, m);
        break;
    }
    this.event(e);
  }

  // ---------------------------------------------------------------- statements

  // Per-process state is keyed by a number (source index and pid): no string built per entry.
  private readonly sourceIds = new Map<string, number>();
  private lastSource = '';
  private lastSourceId = 0;

  private procKey(e: LogEntry): number {
    if (e.source !== this.lastSource) {
      let id = this.sourceIds.get(e.source);
      if (id === undefined) {
        id = this.sourceIds.size;
        this.sourceIds.set(e.source, id);
      }
      this.lastSource = e.source;
      this.lastSourceId = id;
    }
    // pids fit in 22 bits on Linux (pid_max <= 4194304)
    return this.lastSourceId * 4194304 + e.pid;
  }

  private proc(e: LogEntry): ProcState {
    const key = this.procKey(e);
    let st = this.procs.get(key);
    if (!st) {
      if (this.procs.size >= MAX_PROCS) {
        const oldest = this.procs.keys().next().value;
        if (oldest !== undefined) this.procs.delete(oldest);
      }
      st = {};
      this.procs.set(key, st);
    }
    return st;
  }

  /** A statement as logged by log_statement or by a duration line that carries its text. */
  private statement(e: LogEntry, text: string, durationMs: number | undefined): void {
    const { query, type } = normalizeQuery(text);
    this.statements++;
    this.tick(e.ts, T_STATEMENTS);
    this.byType[type]++;
    const agg = this.queries.get(query);
    if (agg.count === 0) {
      agg.type = type;
      agg.example = clip(text, 1000);
    }
    agg.count++;
    const parameters = e.detail?.startsWith('parameters: ') ? e.detail.slice(12) : undefined;
    const st = this.proc(e);
    st.lastTimed = undefined;
    if (durationMs === undefined) {
      st.pending = { agg, text, e, parameters };
    } else {
      st.pending = undefined;
      this.timed(agg, text, e, durationMs, st, parameters);
    }
  }

  private timed(
    agg: QueryAgg,
    text: string,
    e: LogEntry,
    ms: number,
    st: ProcState,
    parameters: string | undefined,
  ): void {
    this.durationMs += ms;
    agg.timed++;
    agg.total += ms;
    agg.sketch.add(ms);
    let plan: string | undefined;
    if (st.plan && samePlanQuery(st.plan.queryText, text)) {
      plan = st.plan.text;
      st.plan = undefined;
    }
    const list = this.slowest;
    const qualifies = list.length < this.top || ms > list[list.length - 1].duration_ms;
    // Kept for a plan logged after its statement: a copy (a slice would pin the read chunk), and only
    // once the log has shown plans (auto_explain logs its plan before the duration line as a rule).
    st.lastTimed = this.plans > 0 ? { text: clip(text, MAX_TEXT), planned: plan !== undefined } : undefined;
    if (qualifies) {
      const slow: SlowStatement = {
        time: iso(e.ts),
        duration_ms: ms,
        query: clip(text, MAX_TEXT),
        database: e.db,
        user: e.user,
        application: e.app,
        client: e.client,
        pid: e.pid,
        source: e.source,
      };
      if (parameters) slow.parameters = clip(parameters, 1000);
      if (plan !== undefined) slow.plan = plan;
      st.lastTimed ??= { text: slow.query, planned: plan !== undefined };
      st.lastTimed.slow = slow;
      let i = list.length;
      while (i > 0 && list[i - 1].duration_ms < ms) i--;
      list.splice(i, 0, slow);
      if (list.length > this.top) list.pop();
    }
  }

  private duration(e: LogEntry, m: string): void {
    const msEnd = m.indexOf(' ms', 10);
    if (msEnd < 0) return;
    const ms = decimalAt(m, 10, msEnd);
    if (!Number.isFinite(ms)) return;
    const r = msEnd + 3; // where the rest of the message starts (compared in place: no slice per line)
    if (r === m.length) {
      // the statement was logged earlier by log_statement: pair with it
      const st = this.proc(e);
      const p = st.pending;
      if (!p) {
        this.orphanDurations++;
        return;
      }
      st.pending = undefined;
      this.timed(p.agg, p.text, p.e, ms, st, p.parameters);
      return;
    }
    if (m.startsWith('  statement: ', r)) return this.statement(e, m.slice(r + 13), ms);
    if (m.startsWith('  plan:', r)) return this.plan(e, m.slice(r + 7));
    if (m.startsWith('  execute ', r)) {
      const colon = m.indexOf(': ', r);
      if (colon > 0) return this.statement(e, m.slice(colon + 2), ms);
    }
    if (m.startsWith('  parse ', r) || m.startsWith('  bind ', r)) {
      this.protocolDurations++;
      return;
    }
    this.orphanDurations++;
  }

  /** An auto_explain plan: joins its statement (before or after it in the log), never counted as one. */
  private plan(e: LogEntry, body: string): void {
    this.plans++;
    const text = body.replace(/^\n/, '');
    const qt = /^Query Text: ([\s\S]*?)(?:\n(?=\S)|$)/.exec(text);
    const queryText = qt ? qt[1] : '';
    const st = this.proc(e);
    const last = st.lastTimed;
    if (last && !last.planned && samePlanQuery(queryText, last.text)) {
      last.planned = true;
      if (last.slow) last.slow.plan = clip(text, MAX_PLAN);
      return;
    }
    if (st.plan) this.plansUnmatched++;
    st.plan = { text: clip(text, MAX_PLAN), queryText };
  }

  // ---------------------------------------------------------------- errors

  private error(e: LogEntry): void {
    this.bySeverity[e.severity as Severity]++;
    if (!ERROR_SEVERITIES.has(e.severity)) return;
    this.tick(e.ts, T_ERRORS);
    const code = e.sqlstate || 'unknown';
    const s = this.bySqlstate.get(code);
    s.count++;
    s.sev[e.severity] = (s.sev[e.severity] ?? 0) + 1;
    if (!s.example) s.example = clip(e.message, 500);
    const msg = normalizeMessage(e.message);
    const em = this.errorMessages.get(e.severity + '|' + code + '|' + msg);
    if (em.count === 0) Object.assign(em, { severity: e.severity, sqlstate: code, message: msg });
    em.count++;
    if (code === '40P01' || e.message === 'deadlock detected') {
      this.deadlocks++;
      if (this.deadlockEvents.length < this.top) {
        this.deadlockEvents.push({
          time: iso(e.ts),
          database: e.db,
          detail: clip(e.detail ?? '', 2000),
          statement: clip(e.statement ?? '', 1000),
        });
      }
    }
    // a statement that failed after log_statement logged it never gets a duration line
    if (e.severity === 'ERROR') {
      const st = this.procs.get(this.procKey(e));
      if (st) st.pending = undefined;
    } else if (e.severity === 'FATAL' || e.severity === 'PANIC') this.event(e);
  }

  // ---------------------------------------------------------------- locks

  private lock(e: LogEntry, m: string): void {
    // process 123 still waiting for ShareLock on transaction 456 after 1000.123 ms
    const r =
      /^process \d+ (still waiting for|acquired|detected deadlock while waiting for|avoided deadlock for) (\S+) .*? after ([\d.]+) ms/.exec(
        m,
      );
    if (!r) return;
    const ms = Number(r[3]);
    if (r[1] === 'still waiting for') {
      this.lockWaits++;
      this.tick(e.ts, T_LOCK_WAITS);
      this.lockModes.add(r[2]);
      if (e.statement) this.lockQueries.add(normalizeQuery(e.statement).query);
    } else if (r[1] === 'acquired') {
      this.lockAcquired++;
      this.lockTotalWait += ms;
      if (ms > this.lockMaxWait) this.lockMaxWait = ms;
    }
  }

  // ---------------------------------------------------------------- checkpoints

  private checkpoint(e: LogEntry, m: string, kind: 'checkpoint' | 'restartpoint'): void {
    if (m.startsWith(kind + ' starting: ')) {
      const flags = m.slice(kind.length + 11);
      const reason = /shutdown/.test(flags)
        ? 'shutdown'
        : /end-of-recovery/.test(flags)
          ? 'end-of-recovery'
          : /\bwal\b|\bxlog\b/.test(flags)
            ? 'wal'
            : /\btime\b/.test(flags)
              ? 'time'
              : 'requested';
      this.cpReasons.add(kind === 'checkpoint' ? reason : `restartpoint ${reason}`);
      return;
    }
    if (!m.startsWith(kind + ' complete: ')) return;
    if (kind === 'restartpoint') {
      this.cp.restartpoints++;
      return;
    }
    this.cp.count++;
    this.tick(e.ts, T_CHECKPOINTS);
    const w = /wrote (\d+) buffers/.exec(m);
    if (w) this.cp.buffers += Number(w[1]);
    const f = /(\d+) WAL file\(s\) added, (\d+) removed, (\d+) recycled/.exec(m);
    if (f) {
      this.cp.added += Number(f[1]);
      this.cp.removed += Number(f[2]);
      this.cp.recycled += Number(f[3]);
    }
    const t = /total=([\d.]+) s/.exec(m);
    if (t && Number(t[1]) > this.cp.maxTotal) this.cp.maxTotal = Number(t[1]);
  }

  // ---------------------------------------------------------------- autovacuum

  private autovacuum(e: LogEntry, m: string): void {
    const r = /^automatic (?:aggressive )?(vacuum|analyze)(?: to prevent wraparound)? of table "([^"]*)"/.exec(m);
    if (!r) return;
    const t = this.tables.get(r[2]);
    t.count++;
    if (r[1] === 'vacuum') {
      this.vacuums++;
      this.tick(e.ts, T_AUTOVACUUM);
      t.vacuum++;
      const tu = /tuples: (\d+) removed/.exec(m);
      if (tu) this.tuplesRemoved += Number(tu[1]);
    } else {
      this.analyzes++;
      this.tick(e.ts, T_AUTOANALYZE);
      t.analyze++;
    }
  }

  // ---------------------------------------------------------------- temp files

  private tempFile(e: LogEntry, m: string): void {
    const r = /, size (\d+)$/.exec(m);
    const bytes = r ? Number(r[1]) : 0;
    this.tempFiles++;
    this.tick(e.ts, T_TEMP_FILES);
    this.tempBytes += bytes;
    if (bytes > this.tempMax) this.tempMax = bytes;
    if (e.statement) {
      const q = this.tempQueries.get(normalizeQuery(e.statement).query);
      q.count++;
      q.bytes += bytes;
    }
  }

  // ---------------------------------------------------------------- connections and sessions

  private connection(e: LogEntry, m: string, replication: boolean): void {
    this.connections++;
    this.tick(e.ts, T_CONNECTIONS);
    if (replication) this.replicationConnections++;
    const user = /\buser=(\S*)/.exec(m)?.[1] ?? e.user;
    const db = /\bdatabase=(\S*)/.exec(m)?.[1] ?? (replication ? '[replication]' : e.db);
    const app = /\bapplication_name=(.*?)(?: SSL enabled| GSS|$)/.exec(m)?.[1] ?? '';
    this.connDb.add(db);
    this.connUser.add(user);
    this.connApp.add(app);
    this.connClient.add(e.client);
    if (Number.isFinite(e.ts)) {
      const sec = Math.floor(e.ts / 1000);
      if (this.perSecond.size < 500000 || this.perSecond.has(sec))
        this.perSecond.set(sec, (this.perSecond.get(sec) ?? 0) + 1);
    }
    const c = this.concurrencyOf(e.source);
    c.cur++;
    if (c.cur > c.max) {
      c.max = c.cur;
      c.maxTs = e.ts;
    }
  }

  private disconnection(e: LogEntry, m: string): void {
    this.sessions++;
    const r = /session time: (\d+):(\d+):([\d.]+)/.exec(m);
    if (r) this.sessionSeconds += Number(r[1]) * 3600 + Number(r[2]) * 60 + Number(r[3]);
    this.sessDb.add(/\bdatabase=(\S*)/.exec(m)?.[1] ?? e.db);
    this.sessUser.add(/\buser=(\S*)/.exec(m)?.[1] ?? e.user);
    this.sessApp.add(e.app);
    const c = this.concurrencyOf(e.source);
    c.cur--;
    if (c.cur < c.min) c.min = c.cur;
    this.procs.delete(this.procKey(e));
  }

  private concurrencyOf(source: string) {
    let c = this.concurrency.get(source);
    if (!c) {
      c = { cur: 0, min: 0, max: 0, maxTs: NaN };
      this.concurrency.set(source, c);
    }
    return c;
  }

  // ---------------------------------------------------------------- replication and life cycle

  private event(e: LogEntry): void {
    let kind: string | undefined;
    for (const [re, k] of EVENT_PATTERNS) {
      if (re.test(e.message)) {
        kind = k;
        break;
      }
    }
    if (!kind) {
      if (e.severity === 'FATAL' || e.severity === 'PANIC') {
        if (e.sqlstate === '57P01' || e.sqlstate === '57P02' || e.sqlstate === '57P03' || e.severity === 'PANIC')
          kind = 'server';
        else return;
      } else return;
    }
    if (kind === 'promotion') this.promotions++;
    if (kind === 'timeline') this.timelineChanges++;
    this.eventKinds.add(kind);
    if (this.events.length < MAX_EVENTS)
      this.events.push({ time: iso(e.ts), kind, source: e.source, message: clip(e.message, 500) });
  }

  // ---------------------------------------------------------------- report

  report(
    input: { bytes: number; lines: number; skipped: number; sources: DigestReport['input']['sources'] },
    now = new Date(),
  ): DigestReport {
    const top = this.top;
    const stats = (a: QueryAgg): QueryStats => ({
      query: a.query,
      type: a.type,
      count: a.count,
      timed: a.timed,
      total_ms: round(a.total),
      mean_ms: a.timed ? round(a.total / a.timed) : 0,
      max_ms: round(a.sketch.max),
      p95_ms: round(a.sketch.quantile(0.95)),
      example: a.example,
    });
    let peakSec: { count: number; time: string | null } = { count: 0, time: null };
    for (const [sec, n] of this.perSecond) if (n > peakSec.count) peakSec = { count: n, time: iso(sec * 1000) };
    let peakConc: { count: number; time: string | null } = { count: 0, time: null };
    for (const c of this.concurrency.values()) {
      const peak = c.max - Math.min(0, c.min);
      if (peak > peakConc.count) peakConc = { count: peak, time: iso(c.maxTs) || null };
    }
    const notes = [
      'Each statement is counted once: an auto_explain plan is attached to the duration line of the same execution and is never counted as a statement (pgBadger counts it as a second query).',
      'Severities are kept as logged: lock waits ("still waiting for"), "skipping vacuum/analyze" and checkpoint warnings are LOG lines and are not counted as errors (pgBadger reports some of them as errors).',
      "Statements are those the server logged: with log_statement = 'mod' every write and DDL statement, plus any statement slower than log_min_duration_statement. A logged write gets a duration only when it was slow; mean_ms and p95_ms are over the timed executions ('timed').",
      'p95_ms is the nearest-rank 95th percentile: exact up to 64 timed executions of a query, then from a log-bucketed histogram (DDSketch-style, gamma 1.02) within 1% of the true value.',
      'Peak concurrent sessions is per log source (node) and a lower bound when sessions were already open when the log starts.',
    ];
    if (this.queries.pruned > 0) {
      notes.push(
        `${this.queries.pruned} normalized queries with the fewest executions were dropped to bound memory; the top lists may undercount rare queries. Totals are exact.`,
      );
    }
    if (this.orphanDurations > 0)
      notes.push(
        `${this.orphanDurations} duration lines had no statement to attach to (statement logged before the period or in an earlier file).`,
      );
    if (this.protocolDurations > 0)
      notes.push(
        `${this.protocolDurations} parse/bind duration lines (extended protocol) were not counted as statements; their execute lines are.`,
      );
    if (this.plans > 0) notes.push(`${this.plans} auto_explain plans read.`);

    return {
      format_version: FORMAT_VERSION,
      generated_at: now.toISOString(),
      period: {
        since: Number.isFinite(this.since) ? iso(this.since) : null,
        until: Number.isFinite(this.until) ? iso(this.until) : null,
        first_entry: Number.isFinite(this.firstTs) ? iso(this.firstTs) : null,
        last_entry: Number.isFinite(this.lastTs) ? iso(this.lastTs) : null,
      },
      input: {
        bytes: input.bytes,
        lines: input.lines,
        skipped_lines: input.skipped,
        entries: this.entries,
        out_of_range: this.outOfRange,
        sources: input.sources,
      },
      totals: {
        statements: this.statements,
        duration_ms: round(this.durationMs),
        errors: this.bySeverity.ERROR + this.bySeverity.FATAL + this.bySeverity.PANIC,
        errors_by_severity: { ...this.bySeverity },
        connections: this.connections,
        sessions: this.sessions,
        checkpoints: this.cp.count,
        temp_files: this.tempFiles,
        temp_bytes: this.tempBytes,
        lock_waits: this.lockWaits,
        deadlocks: this.deadlocks,
        autovacuum: this.vacuums,
        autoanalyze: this.analyzes,
      },
      statements_by_type: { ...this.byType },
      top_queries_by_total_time: this.queries
        .top(top, (a) => a.total)
        .filter((a) => a.timed > 0)
        .map(stats),
      top_queries_by_count: this.queries.top(top).map(stats),
      slowest: this.slowest.map((s) => ({ ...s, duration_ms: round(s.duration_ms) })),
      errors_by_sqlstate: [...this.bySqlstate.map.entries()]
        .sort((a, b) => b[1].count - a[1].count)
        .map(([sqlstate, v]) => ({ sqlstate, count: v.count, by_severity: { ...v.sev }, example: v.example })),
      top_error_messages: this.errorMessages
        .top(top)
        .map((v) => ({ severity: v.severity, sqlstate: v.sqlstate, message: v.message, count: v.count })),
      lock_waits: {
        count: this.lockWaits,
        acquired: this.lockAcquired,
        max_wait_ms: round(this.lockMaxWait),
        total_wait_ms: round(this.lockTotalWait),
        by_lock_mode: this.lockModes.top(top),
        top_queries: this.lockQueries.top(top),
      },
      deadlocks: { count: this.deadlocks, events: this.deadlockEvents },
      checkpoints: {
        count: this.cp.count,
        restartpoints: this.cp.restartpoints,
        buffers_written: this.cp.buffers,
        wal_added: this.cp.added,
        wal_removed: this.cp.removed,
        wal_recycled: this.cp.recycled,
        max_total_s: this.cp.maxTotal,
        warnings: this.cp.warnings,
        by_reason: this.cpReasons.top(50),
      },
      autovacuum: {
        vacuum: this.vacuums,
        analyze: this.analyzes,
        skipped: this.avSkipped,
        tuples_removed: this.tuplesRemoved,
        tables: [...this.tables.map.entries()]
          .sort((a, b) => b[1].count - a[1].count)
          .slice(0, top)
          .map(([table, v]) => ({ table, vacuum: v.vacuum, analyze: v.analyze })),
      },
      temp_files: {
        count: this.tempFiles,
        bytes: this.tempBytes,
        max_bytes: this.tempMax,
        top_queries: [...this.tempQueries.map.entries()]
          .sort((a, b) => b[1].bytes - a[1].bytes)
          .slice(0, top)
          .map(([query, v]) => ({ query, count: v.count, bytes: v.bytes })),
      },
      connections: {
        total: this.connections,
        received: this.received,
        replication: this.replicationConnections,
        peak_per_second: peakSec,
        by_database: this.connDb.top(top),
        by_user: this.connUser.top(top),
        by_application: this.connApp.top(top),
        by_client: this.connClient.top(top),
      },
      sessions: {
        total: this.sessions,
        total_duration_s: round(this.sessionSeconds),
        mean_duration_s: this.sessions ? round(this.sessionSeconds / this.sessions) : 0,
        peak_concurrent: peakConc,
        by_database: this.sessDb.top(top),
        by_user: this.sessUser.top(top),
        by_application: this.sessApp.top(top),
      },
      replication: {
        promotions: this.promotions,
        timeline_changes: this.timelineChanges,
        replication_commands: this.replicationCommands,
        by_kind: this.eventKinds.top(100),
        events: this.events,
      },
      timeline: this.timeline(),
      notes,
    };
  }

  /**
   * The counters per minute when the log spans less than 2 hours, per hour up to 31 days, per day
   * beyond; every bucket from the first entry's to the last one's, empty ones included (UTC).
   */
  private timeline(): DigestReport['timeline'] {
    const keys = [...this.minutes.keys()];
    const series = [...TIMELINE_SERIES];
    const untimed = Object.fromEntries(series.map((s, i) => [s, this.untimed[i]])) as Record<
      (typeof TIMELINE_SERIES)[number],
      number
    >;
    if (!keys.length) return { bucket: 'hour', bucket_seconds: 3600, series, points: [], untimed };
    let lo = Infinity;
    let hi = -Infinity;
    for (const k of keys) {
      if (k < lo) lo = k;
      if (k > hi) hi = k;
    }
    const span = (hi - lo) * MINUTE;
    const size = span < 2 * HOUR ? MINUTE : span <= 31 * DAY ? HOUR : DAY;
    const first = Math.floor((lo * MINUTE) / size);
    const last = Math.floor((hi * MINUTE) / size);
    const sums = Array.from({ length: last - first + 1 }, () => new Array<number>(series.length).fill(0));
    for (const [k, c] of this.minutes) {
      const row = sums[Math.floor((k * MINUTE) / size) - first];
      for (let i = 0; i < c.length; i++) row[i] += c[i];
    }
    return {
      bucket: size === MINUTE ? 'minute' : size === HOUR ? 'hour' : 'day',
      bucket_seconds: size / 1000,
      series,
      points: sums.map((row, j) => ({
        start: iso((first + j) * size),
        ...(Object.fromEntries(series.map((s, i) => [s, row[i]])) as Record<(typeof TIMELINE_SERIES)[number], number>),
      })),
      untimed,
    };
  }
}

/** The plan's "Query Text" and the statement's text are the same statement (whitespace aside). */
function samePlanQuery(a: string, b: string): boolean {
  if (a === b) return true;
  const na = a.replace(/\s+/g, ' ').trim();
  const nb = b.replace(/\s+/g, ' ').trim();
  return na.length > 0 && (na === nb || (nb.endsWith(' ...') && na.startsWith(nb.slice(0, -4))));
}

/** Error messages grouped by shape: quoted names and numbers replaced. */
export function normalizeMessage(m: string): string {
  return clip(
    m
      .replace(/"[^"]*"/g, '"?"')
      .replace(/\b\d+(\.\d+)?\b/g, '?')
      .split('\n')[0],
    300,
  );
}
