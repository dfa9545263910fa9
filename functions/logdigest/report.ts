/** The digest's JSON report. Stable: fields are only ever added (see README.md); format_version changes otherwise. */
import type { LogFormat } from './entry';
import type { StatementType } from './normalize';

export const FORMAT_VERSION = 2;

/** What the timeline counts per bucket; each series sums (with `untimed`) to the total of the same name. */
export const TIMELINE_SERIES = [
  'statements',
  'errors',
  'connections',
  'checkpoints',
  'temp_files',
  'lock_waits',
  'autovacuum',
  'autoanalyze',
] as const;
export type TimelineSeries = (typeof TIMELINE_SERIES)[number];

export type Severity = 'WARNING' | 'ERROR' | 'FATAL' | 'PANIC';

export interface QueryStats {
  /** Normalized text: literals and parameters as '?'. */
  query: string;
  type: StatementType;
  /** Executions logged (each statement once). */
  count: number;
  /** Executions whose duration was logged; mean and p95 are over these. */
  timed: number;
  total_ms: number;
  mean_ms: number;
  max_ms: number;
  p95_ms: number;
  /** One raw occurrence, truncated. */
  example: string;
}

export interface SlowStatement {
  time: string;
  duration_ms: number;
  query: string;
  database: string;
  user: string;
  application: string;
  client: string;
  pid: number;
  source: string;
  parameters?: string;
  /** The auto_explain plan, when one was logged for this execution. */
  plan?: string;
}

export interface Counted {
  name: string;
  count: number;
}

export interface DigestReport {
  format_version: number;
  generated_at: string;
  period: { since: string | null; until: string | null; first_entry: string | null; last_entry: string | null };
  input: {
    bytes: number;
    lines: number;
    skipped_lines: number;
    entries: number;
    /** Entries outside --since/--until. */
    out_of_range: number;
    sources: { name: string; format: LogFormat; bytes: number; lines: number; skipped_lines: number }[];
  };
  totals: {
    statements: number;
    duration_ms: number;
    /** ERROR + FATAL + PANIC entries. */
    errors: number;
    errors_by_severity: Record<Severity, number>;
    connections: number;
    sessions: number;
    checkpoints: number;
    temp_files: number;
    temp_bytes: number;
    lock_waits: number;
    deadlocks: number;
    autovacuum: number;
    autoanalyze: number;
  };
  statements_by_type: Record<StatementType, number>;
  top_queries_by_total_time: QueryStats[];
  top_queries_by_count: QueryStats[];
  slowest: SlowStatement[];
  errors_by_sqlstate: {
    sqlstate: string;
    count: number;
    by_severity: Partial<Record<string, number>>;
    example: string;
  }[];
  top_error_messages: { severity: string; sqlstate: string; message: string; count: number }[];
  lock_waits: {
    count: number;
    acquired: number;
    max_wait_ms: number;
    total_wait_ms: number;
    by_lock_mode: Counted[];
    top_queries: Counted[];
  };
  deadlocks: { count: number; events: { time: string; database: string; detail: string; statement: string }[] };
  checkpoints: {
    count: number;
    restartpoints: number;
    buffers_written: number;
    wal_added: number;
    wal_removed: number;
    wal_recycled: number;
    max_total_s: number;
    warnings: number;
    by_reason: Counted[];
  };
  autovacuum: {
    vacuum: number;
    analyze: number;
    skipped: number;
    tuples_removed: number;
    tables: { table: string; vacuum: number; analyze: number }[];
  };
  temp_files: {
    count: number;
    bytes: number;
    max_bytes: number;
    top_queries: { query: string; count: number; bytes: number }[];
  };
  connections: {
    total: number;
    received: number;
    replication: number;
    peak_per_second: { count: number; time: string | null };
    by_database: Counted[];
    by_user: Counted[];
    by_application: Counted[];
    by_client: Counted[];
  };
  sessions: {
    total: number;
    total_duration_s: number;
    mean_duration_s: number;
    /** Concurrent sessions, a lower bound when sessions were open before the log starts. */
    peak_concurrent: { count: number; time: string | null };
    by_database: Counted[];
    by_user: Counted[];
    by_application: Counted[];
  };
  replication: {
    promotions: number;
    timeline_changes: number;
    replication_commands: number;
    by_kind: Counted[];
    events: { time: string; kind: string; source: string; message: string }[];
  };
  /** Counts per minute (log under 2 hours), hour (up to 31 days) or day, UTC; format_version 2. */
  timeline: {
    bucket: 'minute' | 'hour' | 'day';
    bucket_seconds: number;
    series: TimelineSeries[];
    points: ({ start: string } & Record<TimelineSeries, number>)[];
    /** Counted entries without a readable time (in no bucket). */
    untimed: Record<TimelineSeries, number>;
  };
  notes: string[];
}
