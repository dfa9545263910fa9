/**
 * csvlog (log_destination = 'csvlog'): one CSV record per message, fields quoted with "" doubled inside;
 * a quoted field may span lines (multi-line statements). Columns as PostgreSQL 13-16 write them; the
 * secondary fields map like jsonlog's (query -> statement, internal_query -> query).
 */
import { LineSink, LogEntry } from './entry';
import { SourceStats } from './stderr';
import { parsePgTimestamp } from './timestamp';

const C = {
  time: 0,
  user: 1,
  db: 2,
  pid: 3,
  from: 4,
  severity: 11,
  sqlstate: 12,
  message: 13,
  detail: 14,
  hint: 15,
  internalQuery: 16,
  context: 18,
  query: 19,
  app: 22,
} as const;
/** PostgreSQL 13 writes 24 columns, 14+ 26. */
const MIN_COLUMNS = 23;

/** The fields of one CSV record, or undefined while a quoted field is still open. */
export function parseCsvRecord(text: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text.charCodeAt(i) === 34 /* " */) {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return undefined; // the field goes on on the next line
        v += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 34) {
          v += '"';
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
    } else {
      const c = text.indexOf(',', i);
      out.push(text.slice(i, c < 0 ? n : c));
      i = c < 0 ? n : c;
    }
    if (i >= n) return out;
    if (text.charCodeAt(i) !== 44 /* , */) return out; // garbage after a quoted field: the caller checks the count
    i++;
  }
}

export class CsvLogParser implements LineSink {
  readonly stats: SourceStats = { lines: 0, skipped: 0 };
  private pending = '';
  private pendingLines = 0;

  constructor(
    private readonly source: string,
    private readonly emit: (e: LogEntry) => void,
  ) {}

  line(raw: string): void {
    this.stats.lines++;
    const text = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    const record = this.pendingLines ? this.pending + '\n' + text : text;
    const f = parseCsvRecord(record);
    if (!f) {
      // an open quoted field; a runaway record (no closing quote) is dropped after 10,000 lines
      this.pending = record;
      if (++this.pendingLines > 10_000) this.drop();
      return;
    }
    const lines = this.pendingLines + 1;
    this.pending = '';
    this.pendingLines = 0;
    if (f.length < MIN_COLUMNS || !f[C.severity] || !/^\d{4}-/.test(f[C.time])) {
      if (record.trim()) this.stats.skipped += lines;
      return;
    }
    const from = f[C.from];
    const colon = from.lastIndexOf(':');
    const e: LogEntry = {
      ts: parsePgTimestamp(f[C.time]),
      pid: Number(f[C.pid]) || 0,
      severity: f[C.severity],
      sqlstate: f[C.sqlstate],
      user: f[C.user],
      db: f[C.db],
      app: f[C.app],
      client: colon > 0 && !from.startsWith('[') ? from.slice(0, colon) : from,
      message: f[C.message],
      source: this.source,
    };
    if (f[C.detail]) e.detail = f[C.detail];
    if (f[C.hint]) e.hint = f[C.hint];
    if (f[C.context]) e.context = f[C.context];
    if (f[C.query]) e.statement = f[C.query];
    if (f[C.internalQuery]) e.query = f[C.internalQuery];
    this.emit(e);
  }

  end(): void {
    if (this.pendingLines) this.drop();
  }

  private drop(): void {
    this.stats.skipped += this.pendingLines;
    this.pending = '';
    this.pendingLines = 0;
  }
}
