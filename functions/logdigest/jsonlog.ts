/** jsonlog: one JSON object per line, with the secondary fields inside it. */
import { LineSink, LogEntry } from './entry';
import { SourceStats } from './stderr';
import { parsePgTimestamp } from './timestamp';

interface JsonLogRecord {
  timestamp?: string;
  user?: string;
  dbname?: string;
  pid?: number;
  remote_host?: string;
  error_severity?: string;
  state_code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  internal_query?: string;
  context?: string;
  statement?: string;
  application_name?: string;
}

export class JsonLogParser implements LineSink {
  readonly stats: SourceStats = { lines: 0, skipped: 0 };

  constructor(
    private readonly source: string,
    private readonly emit: (e: LogEntry) => void,
  ) {}

  line(text: string): void {
    this.stats.lines++;
    if (text.charCodeAt(0) !== 123 /* { */) {
      if (text.trim().length > 0) this.stats.skipped++;
      return;
    }
    let r: JsonLogRecord;
    try {
      r = JSON.parse(text) as JsonLogRecord;
    } catch {
      this.stats.skipped++;
      return;
    }
    if (typeof r !== 'object' || r === null || typeof r.error_severity !== 'string' || typeof r.message !== 'string') {
      this.stats.skipped++;
      return;
    }
    const e: LogEntry = {
      ts: r.timestamp ? parsePgTimestamp(r.timestamp) : NaN,
      pid: r.pid ?? 0,
      severity: r.error_severity,
      sqlstate: r.state_code ?? (r.error_severity === 'LOG' ? '00000' : ''),
      user: r.user ?? '',
      db: r.dbname ?? '',
      app: r.application_name ?? '',
      client: r.remote_host ?? '',
      message: r.message,
      source: this.source,
    };
    if (r.detail !== undefined) e.detail = r.detail;
    if (r.hint !== undefined) e.hint = r.hint;
    if (r.context !== undefined) e.context = r.context;
    if (r.statement !== undefined) e.statement = r.statement;
    if (r.internal_query !== undefined) e.query = r.internal_query;
    this.emit(e);
  }

  end(): void {}
}
