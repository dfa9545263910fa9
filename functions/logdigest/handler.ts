/**
 * The nightly digest, a scheduled Lambda. It reads the last DIGEST_WINDOW_HOURS of logs (CloudWatch
 * Logs in AWS; the log files in the lab), writes the JSON, Markdown and HTML reports to the report
 * store (S3 in AWS), publishes a summary (SNS) and a few figures as metrics (CloudWatch).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { processEnv, type EnvSource } from '../lib/env';
import { datum, type MetricSpec } from '../lib/metric-spec';
import { METRIC_NAMESPACE, type MetricDatum, type MetricsSink, type Notifier } from '../lib/ports';
import { anonymizeReport } from './anonymize';
import { Digest } from './digest';
import { DEFAULT_PREFIX, type LogFormat } from './entry';
import type { DigestReport } from './report';
import { renderHtml, renderMarkdown } from './render';

export interface LogStream {
  name: string;
  format: LogFormat;
  lines: AsyncIterable<string>;
}

/** Where the logs come from: one stream per node (a CloudWatch log stream, a log file). */
export interface LogSource {
  streams(since: Date, until: Date): AsyncIterable<LogStream>;
}

/** Where the reports go; returns where it put it (s3://... or a path). */
export interface ReportStore {
  put(name: string, body: string, contentType: string): Promise<string>;
}

export interface DigestConfig {
  cluster: string;
  windowHours: number;
  prefix: string;
  /** AWS */
  logGroup: string;
  logFormat: LogFormat;
  bucket?: string;
  keyPrefix: string;
  topicArn?: string;
  /** lab: read these log files instead of CloudWatch Logs, write reports here */
  logDir?: string;
  reportDir?: string;
  /** Replace literals in the reports and the summary (DIGEST_ANONYMIZE, default on; 0 turns it off). */
  anonymize: boolean;
  /** IANA zone of log_timezone, to read its abbreviations (DIGEST_LOG_TIMEZONE). */
  logTimezone?: string;
}

/** All configuration, from the environment, in one place. */
export function readConfig(env: EnvSource = processEnv()): DigestConfig {
  const cluster = env.PGWARDEN_CLUSTER ?? env.CLUSTER;
  if (!cluster) throw new Error('PGWARDEN_CLUSTER is not set');
  const windowHours = Number(env.DIGEST_WINDOW_HOURS ?? 24);
  if (!(windowHours > 0))
    throw new Error(`DIGEST_WINDOW_HOURS must be a positive number, not '${env.DIGEST_WINDOW_HOURS}'`);
  const logFormat = (env.DIGEST_LOG_FORMAT ?? 'jsonlog') as LogFormat;
  if (logFormat !== 'jsonlog' && logFormat !== 'stderr')
    throw new Error(`DIGEST_LOG_FORMAT must be jsonlog or stderr, not '${logFormat}'`);
  const anonymize = env.DIGEST_ANONYMIZE ?? '1';
  if (anonymize !== '0' && anonymize !== '1') throw new Error(`DIGEST_ANONYMIZE must be 0 or 1, not '${anonymize}'`);
  return {
    cluster,
    windowHours,
    prefix: env.DIGEST_PREFIX ?? DEFAULT_PREFIX,
    logFormat,
    logGroup: env.DIGEST_LOG_GROUP ?? `/pgwarden/${cluster}/postgresql${logFormat === 'jsonlog' ? '-json' : ''}`,
    bucket: env.DIGEST_BUCKET || undefined,
    keyPrefix: env.DIGEST_KEY_PREFIX ?? `digests/${cluster}/`,
    topicArn: env.DIGEST_TOPIC_ARN || undefined,
    logDir: env.DIGEST_LOG_DIR || undefined,
    reportDir: env.DIGEST_REPORT_DIR || undefined,
    anonymize: anonymize === '1',
    logTimezone: env.DIGEST_LOG_TIMEZONE || undefined,
  };
}

export interface DigestDeps {
  source: LogSource;
  reports: ReportStore;
  notifier: Notifier;
  metrics: MetricsSink;
  now(): Date;
  log(msg: string, fields?: Record<string, unknown>): void;
}

export interface DigestResult {
  cluster: string;
  since: string;
  until: string;
  reports: Record<'json' | 'md' | 'html', string>;
  totals: DigestReport['totals'];
  skipped_lines: number;
}

/** EventBridge scheduled event; `since`/`until` may be given to re-run a past window. */
export interface DigestEvent {
  since?: string;
  until?: string;
}

export function makeHandler(deps: DigestDeps, config: DigestConfig) {
  return async (event: DigestEvent = {}): Promise<DigestResult> => {
    const until = event.until ? new Date(event.until) : deps.now();
    const since = event.since ? new Date(event.since) : new Date(until.getTime() - config.windowHours * 3.6e6);
    if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()) || since >= until) {
      throw new Error(
        `invalid digest window: ${event.since ?? since.toISOString()} .. ${event.until ?? until.toISOString()}`,
      );
    }
    const digest = new Digest({
      since,
      until,
      prefix: config.prefix,
      now: deps.now,
      logTimezone: config.logTimezone,
    });
    let streams = 0;
    for await (const s of deps.source.streams(since, until)) {
      streams++;
      await digest.addLines(s.name, s.lines, s.format);
    }
    const full = digest.report();
    // What leaves the Lambda (S3, SNS) carries no literal of the logs unless DIGEST_ANONYMIZE=0.
    const report = config.anonymize ? anonymizeReport(full) : full;
    const stamp = until
      .toISOString()
      .replace(/[:]/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const base = `${config.cluster}-${stamp}`;
    const reports = {
      json: await deps.reports.put(`${base}.json`, JSON.stringify(report, null, 2), 'application/json'),
      md: await deps.reports.put(`${base}.md`, renderMarkdown(report), 'text/markdown; charset=utf-8'),
      html: await deps.reports.put(`${base}.html`, renderHtml(report), 'text/html; charset=utf-8'),
    };
    const t = report.totals;
    await deps.metrics.put(METRIC_NAMESPACE, digestMetrics(report, config.cluster, until));
    await deps.notifier.notify(
      `pgwarden ${config.cluster} log digest: ${t.errors} errors, ${t.deadlocks} deadlocks, ${t.lock_waits} lock waits`,
      {
        cluster: config.cluster,
        since: since.toISOString(),
        until: until.toISOString(),
        report: reports.html,
        json: reports.json,
        totals: t,
        top_queries_by_total_time: report.top_queries_by_total_time
          .slice(0, 5)
          .map((q) => ({ query: q.query, count: q.count, total_ms: q.total_ms, p95_ms: q.p95_ms })),
        errors_by_sqlstate: report.errors_by_sqlstate
          .slice(0, 10)
          .map((e) => ({ sqlstate: e.sqlstate, count: e.count })),
        replication_events: report.replication.events
          .filter((e) => e.kind === 'promotion' || e.kind === 'timeline')
          .slice(0, 10),
        skipped_lines: report.input.skipped_lines,
      },
    );
    deps.log('log digest written', {
      streams,
      entries: report.input.entries,
      skipped: report.input.skipped_lines,
      report: reports.json,
    });
    return {
      cluster: config.cluster,
      since: since.toISOString(),
      until: until.toISOString(),
      reports,
      totals: t,
      skipped_lines: report.input.skipped_lines,
    };
  };
}

const digestSpec = (name: string, unit: MetricDatum['unit']): MetricSpec => ({ name, unit, dimensions: ['Cluster'] });
/** What the nightly digest publishes, one value per night and cluster. */
export const DIGEST_METRICS = {
  DigestStatements: digestSpec('DigestStatements', 'Count'),
  DigestStatementTime: digestSpec('DigestStatementTime', 'Milliseconds'),
  DigestErrors: digestSpec('DigestErrors', 'Count'),
  DigestFatals: digestSpec('DigestFatals', 'Count'),
  DigestDeadlocks: digestSpec('DigestDeadlocks', 'Count'),
  DigestLockWaits: digestSpec('DigestLockWaits', 'Count'),
  DigestTempBytes: digestSpec('DigestTempBytes', 'Bytes'),
  DigestCheckpoints: digestSpec('DigestCheckpoints', 'Count'),
  DigestCheckpointWarnings: digestSpec('DigestCheckpointWarnings', 'Count'),
  DigestConnections: digestSpec('DigestConnections', 'Count'),
  DigestSlowestStatement: digestSpec('DigestSlowestStatement', 'Milliseconds'),
  DigestSkippedLines: digestSpec('DigestSkippedLines', 'Count'),
} satisfies Record<string, MetricSpec>;

export function digestMetrics(r: DigestReport, cluster: string, at: Date): MetricDatum[] {
  const t = r.totals;
  const m = DIGEST_METRICS;
  const d = (spec: MetricSpec, value: number) => datum(spec, value, { Cluster: cluster }, at);
  return [
    d(m.DigestStatements, t.statements),
    d(m.DigestStatementTime, t.duration_ms),
    d(m.DigestErrors, t.errors),
    d(m.DigestFatals, t.errors_by_severity.FATAL + t.errors_by_severity.PANIC),
    d(m.DigestDeadlocks, t.deadlocks),
    d(m.DigestLockWaits, t.lock_waits),
    d(m.DigestTempBytes, t.temp_bytes),
    d(m.DigestCheckpoints, t.checkpoints),
    d(m.DigestCheckpointWarnings, r.checkpoints.warnings),
    d(m.DigestConnections, t.connections),
    d(m.DigestSlowestStatement, r.slowest[0]?.duration_ms ?? 0),
    d(m.DigestSkippedLines, r.input.skipped_lines),
  ];
}

// ------------------------------------------------------------------ lab wiring

/** The lab's log source: the files in a node's log directory (*.json for jsonlog, *.log for stderr). */
export class LogDirSource implements LogSource {
  constructor(
    private readonly dirs: string[],
    private readonly format: LogFormat,
  ) {}

  async *streams(since: Date): AsyncIterable<LogStream> {
    const ext = this.format === 'jsonlog' ? '.json' : '.log';
    for (const dir of this.dirs) {
      const names = (await fs.readdir(dir)).filter((n) => n.endsWith(ext) || n.endsWith(ext + '.gz'));
      for (const n of names.sort()) {
        const file = path.join(dir, n);
        if ((await fs.stat(file)).mtimeMs < since.getTime()) continue;
        yield { name: file, format: this.format, lines: fileLines(file) };
      }
    }
  }
}

async function* fileLines(file: string): AsyncIterable<string> {
  const { createReadStream } = await import('node:fs');
  const { createInterface } = await import('node:readline');
  const { createGunzip } = await import('node:zlib');
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  yield* createInterface({ input, crlfDelay: Infinity });
}

export class DirReportStore implements ReportStore {
  constructor(private readonly dir: string) {}
  async put(name: string, body: string): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true });
    const p = path.join(this.dir, name);
    await fs.writeFile(p, body);
    return p;
  }
}

const jsonLog = (msg: string, fields?: Record<string, unknown>) => console.log(JSON.stringify({ msg, ...fields }));

/** One default wiring per runtime: files when DIGEST_LOG_DIR is set (lab), AWS otherwise. */
export async function defaultDeps(config: DigestConfig): Promise<DigestDeps> {
  if (config.logDir) {
    const logOnly = (kind: string) => ({
      notify: async (subject: string, message: Record<string, unknown>) => jsonLog(kind, { subject, message }),
      put: async (namespace: string, data: MetricDatum[]) => jsonLog(kind, { namespace, data }),
    });
    return {
      source: new LogDirSource(config.logDir.split(','), config.logFormat),
      reports: new DirReportStore(config.reportDir ?? path.join(config.logDir.split(',')[0], 'digests')),
      notifier: logOnly('digest summary'),
      metrics: logOnly('digest metrics'),
      now: () => new Date(),
      log: jsonLog,
    };
  }
  if (!config.bucket) throw new Error('DIGEST_BUCKET is not set');
  if (!config.topicArn) throw new Error('DIGEST_TOPIC_ARN is not set');
  const [{ CloudWatchLogsClient }, { S3Client }, { SNSClient }, { CloudWatchClient }, aws, sns, metrics] =
    await Promise.all([
      import('@aws-sdk/client-cloudwatch-logs'),
      import('@aws-sdk/client-s3'),
      import('@aws-sdk/client-sns'),
      import('@aws-sdk/client-cloudwatch'),
      import('./aws'),
      import('../lib/aws/sns-notifier'),
      import('../lib/aws/cloudwatch-metrics'),
    ]);
  return {
    source: new aws.CloudWatchLogSource(new CloudWatchLogsClient({}), config.logGroup, config.logFormat),
    reports: new aws.S3ReportStore(new S3Client({}), config.bucket, config.keyPrefix),
    notifier: new sns.SnsNotifier(new SNSClient({}), config.topicArn),
    metrics: new metrics.CloudWatchMetrics(new CloudWatchClient({}), { log: jsonLog }),
    now: () => new Date(),
    log: jsonLog,
  };
}

let wired: Promise<ReturnType<typeof makeHandler>> | undefined;

/** The Lambda entry point (EventBridge schedule, e.g. cron(5 0 * * ? *)). */
export const handler = async (event: DigestEvent = {}): Promise<DigestResult> => {
  wired ??= (async () => {
    const config = readConfig();
    return makeHandler(await defaultDeps(config), config);
  })().catch((e: unknown) => {
    wired = undefined;
    throw e;
  });
  return (await wired)(event);
};
