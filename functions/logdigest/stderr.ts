/**
 * Reassembles stderr log lines into entries. PostgreSQL writes each message in one piece: a line with
 * the prefix and a severity, continuation lines of a multi-line text starting with a tab, then the
 * secondary fields (DETAIL, HINT, CONTEXT, STATEMENT, QUERY, LOCATION), each on its own prefixed line.
 * A line that is none of these is counted as skipped.
 */
import { CompiledPrefix, compilePrefix } from './prefix';
import { decimalAt } from './decimal';
import { LineSink, LogEntry } from './entry';
import { parseEpoch, parsePgTimestamp } from './timestamp';

export interface SourceStats {
  lines: number;
  skipped: number;
}

type Field = 'message' | 'detail' | 'hint' | 'context' | 'statement' | 'query';

const SECONDARY_FIELD: Record<string, Field | undefined> = {
  DETAIL: 'detail',
  HINT: 'hint',
  CONTEXT: 'context',
  STATEMENT: 'statement',
  QUERY: 'query',
};

const unknown = (v: string | undefined) => (v === undefined || v === '[unknown]' ? '' : v);

export class StderrParser implements LineSink {
  readonly stats: SourceStats = { lines: 0, skipped: 0 };
  private readonly p: CompiledPrefix;
  private current: LogEntry | undefined;
  private field: Field = 'message';
  /** A LOCATION line (log_error_verbosity = verbose) is parsed but not kept. */
  private inLocation = false;

  constructor(
    prefix: string | CompiledPrefix,
    private readonly source: string,
    private readonly emit: (e: LogEntry) => void,
  ) {
    this.p = typeof prefix === 'string' ? compilePrefix(prefix) : prefix;
  }

  line(raw: string): void {
    this.stats.lines++;
    const text = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    if (text.charCodeAt(0) === 9 /* tab */) {
      const cur = this.current;
      if (!cur) {
        this.stats.skipped++;
        return;
      }
      if (!this.inLocation) cur[this.field] = (cur[this.field] ?? '') + '\n' + text.slice(1);
      return;
    }
    const m = this.p.regex.exec(text);
    if (!m) {
      if (text.length > 0 || this.current) this.stats.skipped++;
      return;
    }
    // LOG (nearly every line) as the literal: later comparisons with 'LOG' are then by identity, and
    // the keyed lookup below (a string-table probe for a string the regex made) is skipped for it.
    const severity = m[this.p.severityGroup] === 'LOG' ? 'LOG' : m[this.p.severityGroup];
    const pg = this.p.groups.pid;
    // (\d+), read by decimalAt; NaN when %p is in an absent %q part, as Number(undefined) is
    const pid = !pg ? 0 : m[pg] === undefined ? NaN : decimalAt(m[pg], 0, m[pg].length);
    const body = text.slice(m[0].length);
    const secondary = severity === 'LOG' ? undefined : SECONDARY_FIELD[severity];
    if (secondary || severity === 'LOCATION') {
      const cur = this.current;
      if (!cur || cur.pid !== pid) {
        this.stats.skipped++;
        return;
      }
      this.inLocation = severity === 'LOCATION';
      if (secondary) {
        cur[secondary] = body;
        this.field = secondary;
      }
      return;
    }
    this.flush();
    const g = this.p.groups;
    let ts = NaN;
    if (g.time) ts = parsePgTimestamp(m[g.time]);
    else if (g.epoch) ts = parseEpoch(m[g.epoch]);
    let sqlstate = g.sqlstate ? (m[g.sqlstate] ?? '') : '';
    let message = body;
    // log_error_verbosity = verbose puts the SQLSTATE before the text: "ERROR:  42P01: relation ..."
    if (
      severity !== 'LOG' &&
      message.charCodeAt(5) === 58 &&
      /^[0-9A-Z]{5}: /.test(message) &&
      /\d/.test(message.slice(0, 5))
    ) {
      sqlstate = message.slice(0, 5);
      message = message.slice(7);
    }
    this.current = {
      ts,
      pid,
      severity,
      sqlstate,
      user: unknown(g.user ? m[g.user] : ''),
      db: unknown(g.db ? m[g.db] : ''),
      app: unknown(g.app ? m[g.app] : ''),
      client: unknown(g.client ? m[g.client] : ''),
      message,
      source: this.source,
    };
    this.field = 'message';
    this.inLocation = false;
  }

  end(): void {
    this.flush();
  }

  private flush(): void {
    if (this.current) {
      const e = this.current;
      this.current = undefined;
      this.emit(e);
    }
  }
}
