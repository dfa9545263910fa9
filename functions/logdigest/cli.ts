/**
 * pgwarden digest <files...> [--since T] [--until T] [--format md|json|html] [--prefix P] [--output F]
 *                            [--input-format stderr|jsonlog] [--top N]
 */
import { statSync, writeFileSync } from 'node:fs';
import { anonymizeReport } from './anonymize';
import { digestFiles } from './digest';
import { DEFAULT_PREFIX, LogFormat } from './entry';
import { compilePrefix } from './prefix';
import { OutputFormat, render } from './render';

export const USAGE = `usage: pgwarden digest <log files...> [options]

Reads PostgreSQL stderr logs (any log_line_prefix, multi-line statements included), jsonlog and
csvlog files (detected by content; .gz accepted; "-" is the standard input) and reports what
matters in an incident, with a timeline per minute or hour.

options:
  --since <time>          ignore entries before <time>: ISO 8601 ("2024-05-01T00:00:00Z";
                          no zone means UTC) or a duration back from now ("24h", "90m", "2d")
  --until <time>          ignore entries at or after <time> (same forms)
  --format md|json|html   output format (default md); json is the stable format
  --prefix <prefix>       log_line_prefix of stderr logs, as in postgresql.conf
                          (default '${DEFAULT_PREFIX}')
  --input-format <f>      stderr, jsonlog or csvlog, instead of detecting it per file
  --log-timezone <zone>   log_timezone as an IANA name (Asia/Kolkata, Europe/Dublin): reads the
                          log's zone abbreviations in it (IST, CST... mean two zones)
  --anonymize             replace literals in queries, plans, parameters and messages with ?
  --top <n>               length of the top lists (default 20)
  --output <file>         write the report there instead of stdout
  -h, --help              this help
`;

export class UsageError extends Error {}

export interface CliArgs {
  files: string[];
  since?: Date;
  until?: Date;
  format: OutputFormat;
  prefix: string;
  inputFormat?: LogFormat;
  top: number;
  output?: string;
  anonymize: boolean;
  logTimezone?: string;
  help: boolean;
}

/** "24h" / "90m" / "2d" / "30s" back from now, or an absolute time (UTC when no zone is given). */
export function parseTime(v: string, now: Date): Date {
  const rel = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(v.trim());
  if (rel) {
    const mult = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * mult);
  }
  let s = v.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z';
  else if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s = s.replace(' ', 'T') + 'Z';
  else s = s.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T').replace(/ (UTC|GMT)$/, 'Z');
  const d = new Date(s);
  if (Number.isNaN(d.getTime()))
    throw new UsageError(`invalid time: '${v}' (use ISO 8601 like 2024-05-01T00:00:00Z, or 24h)`);
  return d;
}

export function parseArgs(argv: string[], now = new Date()): CliArgs {
  const a: CliArgs = { files: [], format: 'md', prefix: DEFAULT_PREFIX, top: 20, anonymize: false, help: false };
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = () => {
      if (inline !== undefined) return inline;
      const v = value(i, arg);
      i++;
      return v;
    };
    switch (arg) {
      case '-h':
      case '--help':
        a.help = true;
        break;
      case '--since':
        a.since = parseTime(take(), now);
        break;
      case '--until':
        a.until = parseTime(take(), now);
        break;
      case '--format': {
        const f = take();
        if (f !== 'md' && f !== 'json' && f !== 'html')
          throw new UsageError(`--format must be md, json or html, not '${f}'`);
        a.format = f;
        break;
      }
      case '--prefix':
        a.prefix = take();
        try {
          compilePrefix(a.prefix);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      case '--input-format': {
        const f = take();
        if (f !== 'stderr' && f !== 'jsonlog' && f !== 'csvlog')
          throw new UsageError(`--input-format must be stderr, jsonlog or csvlog, not '${f}'`);
        a.inputFormat = f;
        break;
      }
      case '--anonymize':
        a.anonymize = true;
        break;
      case '--log-timezone': {
        const z = take();
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: z });
        } catch {
          throw new UsageError(`--log-timezone: unknown time zone '${z}' (use an IANA name like Europe/Dublin)`);
        }
        a.logTimezone = z;
        break;
      }
      case '--top': {
        const n = Number(take());
        if (!Number.isInteger(n) || n < 1) throw new UsageError('--top must be a positive integer');
        a.top = n;
        break;
      }
      case '--output':
      case '-o':
        a.output = take();
        break;
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option: ${argv[i]}`);
        a.files.push(argv[i]);
    }
  }
  if (a.since && a.until && a.since >= a.until) throw new UsageError('--since must be before --until');
  if (!a.help && a.files.length === 0) throw new UsageError('no log files given ("-" reads the standard input)');
  if (a.files.filter((f) => f === '-').length > 1) throw new UsageError('"-" (standard input) can be given once');
  return a;
}

/** argv: the arguments after `digest`. Returns the exit code: 0 ok, 1 unreadable input, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`pgwarden digest: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const f of args.files) {
    if (f === '-') continue;
    try {
      const st = statSync(f);
      if (!st.isFile()) throw new Error('not a file');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      process.stderr.write(`pgwarden digest: cannot read ${f}: ${why}\n`);
      return 1;
    }
  }
  let out: string;
  try {
    const report = await digestFiles(args.files, {
      since: args.since,
      until: args.until,
      prefix: args.prefix,
      inputFormat: args.inputFormat,
      top: args.top,
      logTimezone: args.logTimezone,
    });
    out = render(args.anonymize ? anonymizeReport(report) : report, args.format);
  } catch (e) {
    process.stderr.write(`pgwarden digest: ${(e as Error).message}\n`);
    return 1;
  }
  // synchronous: fs.promises (and the modules it loads) would cost every run 2 ms
  if (args.output) writeFileSync(args.output, out);
  else await writeStdout(out);
  return 0;
}

function writeStdout(s: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(s, (err) => (err ? reject(err) : resolve())));
}
