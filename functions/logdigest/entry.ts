/** One PostgreSQL log message with its secondary fields, whichever destination it was read from. */
export interface LogEntry {
  /** Epoch milliseconds; NaN when the line carries no time the digest can read. */
  ts: number;
  pid: number;
  /** As logged: LOG, WARNING, ERROR, FATAL, PANIC, NOTICE, INFO, DEBUGn. */
  severity: string;
  /** Five-character SQLSTATE, '' when the log does not carry it. */
  sqlstate: string;
  user: string;
  db: string;
  app: string;
  client: string;
  message: string;
  detail?: string;
  hint?: string;
  context?: string;
  statement?: string;
  query?: string;
  /** The file or log stream it came from (per-process state is kept per source). */
  source: string;
}

export type LogFormat = 'stderr' | 'jsonlog' | 'csvlog';

/** Receives physical lines of one source in order; end() flushes the last entry. */
export interface LineSink {
  line(text: string): void;
  end(): void;
}

/** The default log_line_prefix: the one infra/node/postgresql.logging.conf configures (a unit test keeps them equal). */
export const DEFAULT_PREFIX = '%m [%p] %e %q%u@%d app=%a client=%h ';
