/**
 * Streaming entry points: feed lines of one or more sources (files, CloudWatch log streams) into one
 * Analyzer. Files are read in chunks and split into lines here (no whole-file buffering); gzip files
 * are decompressed on the fly.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Analyzer, AnalyzerOptions } from './analyzer';
import { DEFAULT_PREFIX, LineSink, LogEntry, LogFormat } from './entry';
import { CsvLogParser } from './csvlog';
import { JsonLogParser } from './jsonlog';
import { LineSplitter } from './lines';
import { compilePrefix, CompiledPrefix } from './prefix';
import type { DigestReport } from './report';
import { StderrParser } from './stderr';
import { setLogTimezone, unknownZones } from './timestamp';

export interface DigestOptions extends AnalyzerOptions {
  /** log_line_prefix of stderr logs, as in postgresql.conf. Default: the one infra/node configures. */
  prefix?: string;
  /** Force the input format; default: detected per source from its first line ('{' means jsonlog). */
  inputFormat?: LogFormat;
  now?: () => Date;
  /** log_timezone as an IANA name: settles ambiguous zone abbreviations (IST, CST...). */
  logTimezone?: string;
}

/**
 * Bytes read from a file at a time: a buffer that stays in the CPU's cache (reading 10 MB took 1.5 ms
 * in 64 kB reads and 12 ms in 1 MB ones on a 2-vCPU VM with a 1 MB L2), and few pages to fault in.
 */
const READ_CHUNK = 1 << 16;

interface SourceRecord {
  name: string;
  format: LogFormat;
  bytes: number;
  parser: StderrParser | JsonLogParser | CsvLogParser;
}

export class Digest {
  readonly analyzer: Analyzer;
  private readonly prefix: CompiledPrefix;
  private readonly sources: SourceRecord[] = [];

  constructor(private readonly opts: DigestOptions = {}) {
    this.analyzer = new Analyzer(opts);
    setLogTimezone(opts.logTimezone);
    this.prefix = compilePrefix(opts.prefix ?? DEFAULT_PREFIX);
  }

  /** A sink for the lines of one source, in order. */
  source(name: string, format: LogFormat): LineSink & { addBytes(n: number): void } {
    const emit = (e: LogEntry) => this.analyzer.add(e);
    const parser =
      format === 'jsonlog'
        ? new JsonLogParser(name, emit)
        : format === 'csvlog'
          ? new CsvLogParser(name, emit)
          : new StderrParser(this.prefix, name, emit);
    const rec: SourceRecord = { name, format, bytes: 0, parser };
    this.sources.push(rec);
    return {
      line: (t: string) => parser.line(t),
      end: () => parser.end(),
      addBytes: (n: number) => {
        rec.bytes += n;
      },
    };
  }

  /** Lines from any async source (a CloudWatch log stream, a test); the format is detected when not given. */
  async addLines(name: string, lines: AsyncIterable<string> | Iterable<string>, format?: LogFormat): Promise<void> {
    let sink: ReturnType<Digest['source']> | undefined;
    for await (const l of lines) {
      sink ??= this.source(name, format ?? this.opts.inputFormat ?? detectFormat(l));
      sink.addBytes(Buffer.byteLength(l) + 1);
      sink.line(l);
    }
    sink?.end();
  }

  /** One file, streamed; "-" is the standard input. */
  async addFile(path: string): Promise<void> {
    if (path === '-') return this.addStream('(stdin)', process.stdin, false);
    if (path.endsWith('.gz')) return this.addStream(path, createReadStream(path, { highWaterMark: 1 << 18 }), true);
    // A plain file: synchronous reads into one buffer. The digest has nothing else to do meanwhile,
    // and an awaited read is a round trip through libuv's thread pool: the process gives the CPU
    // away and waits to be scheduled again, twice a chunk (a quarter fewer context switches now).
    const fd = openSync(path, 'r');
    const lines = this.lineSink(path);
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let bytes = 0;
    try {
      for (let n; (n = readSync(fd, buffer, 0, READ_CHUNK, null)) > 0;) {
        bytes += n;
        lines.push(buffer.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    lines.end(bytes);
  }

  /** A byte stream of log lines (the standard input, a .gz file), gzip-compressed or not. */
  async addStream(path: string, raw: Readable, gzip: boolean): Promise<void> {
    const lines = this.lineSink(path);
    let bytes = 0;
    raw.on('data', (c: Buffer | string) => {
      bytes += c.length;
    });
    // zlib (and the stream modules it loads) only when needed: loading them costs every run 3 ms
    const stream = gzip ? raw.pipe((await import('node:zlib')).createGunzip()) : raw;
    try {
      for await (const chunk of stream) lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    } finally {
      raw.destroy();
    }
    lines.end(bytes);
  }

  /** Byte chunks of `path` to its sink, made at the first line (the format is detected from it). */
  private lineSink(path: string): { push(chunk: Buffer): void; end(bytes: number): void } {
    let sink: ReturnType<Digest['source']> | undefined;
    const splitter = new LineSplitter((line) => {
      sink ??= this.source(path, this.opts.inputFormat ?? detectFormat(line));
      sink.line(line);
    });
    return {
      push: (chunk) => splitter.push(chunk),
      end: (bytes) => {
        splitter.end();
        sink ??= this.source(path, this.opts.inputFormat ?? 'stderr');
        sink.end();
        sink.addBytes(bytes);
      },
    };
  }

  report(): DigestReport {
    const sources = this.sources.map((s) => ({
      name: s.name,
      format: s.format,
      bytes: s.bytes,
      lines: s.parser.stats.lines,
      skipped_lines: s.parser.stats.skipped,
    }));
    const r = this.analyzer.report(
      {
        bytes: sources.reduce((a, s) => a + s.bytes, 0),
        lines: sources.reduce((a, s) => a + s.lines, 0),
        skipped: sources.reduce((a, s) => a + s.skipped_lines, 0),
        sources,
      },
      this.opts.now?.() ?? new Date(),
    );
    if (unknownZones.size > 0)
      r.notes.push(`Unknown time zone abbreviations read as UTC: ${[...unknownZones].join(', ')}.`);
    return r;
  }
}

/** jsonlog starts with "{", csvlog with a timestamp and a comma ("2024-05-01 12:00:00.123 UTC,"). */
export function detectFormat(firstLine: string): LogFormat {
  if (firstLine.trimStart().startsWith('{')) return 'jsonlog';
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?( [A-Za-z0-9+:-]+)?,/.test(firstLine) ? 'csvlog' : 'stderr';
}

export async function digestFiles(files: string[], opts: DigestOptions = {}): Promise<DigestReport> {
  const d = new Digest(opts);
  for (const f of files) await d.addFile(f);
  return d.report();
}
