/**
 * AWS adapters of the digest: CloudWatch Logs in, S3 out (SNS and CloudWatch metrics use the shared
 * adapters in functions/lib/aws). Each takes an injected SDK client (tests use aws-sdk-client-mock). Throttling is retried here with backoff, since
 * CloudWatch Logs read APIs allow only a few requests per second per account.
 */
import {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LogFormat } from './entry';
import type { LogSource, LogStream, ReportStore } from './handler';

const RETRYABLE = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailableException',
  'Throttling',
  'RequestLimitExceeded',
]);

export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const base = opts.baseDelayMs ?? 200;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const name = (e as { name?: string }).name ?? '';
      if (i >= attempts || !RETRYABLE.has(name)) throw e;
      await sleep(Math.min(5000, base * 2 ** (i - 1)) * (0.5 + Math.random() / 2));
    }
  }
}

/**
 * The log streams of one log group (one per node) with events in [since, until), each read with
 * FilterLogEvents restricted to that stream so that a node's lines stay in order and together.
 */
export class CloudWatchLogSource implements LogSource {
  constructor(
    private readonly client: CloudWatchLogsClient,
    private readonly logGroupName: string,
    private readonly format: LogFormat,
    private readonly retry: RetryOptions = {},
  ) {}

  async *streams(since: Date, until: Date): AsyncIterable<LogStream> {
    for await (const name of this.streamNames(since)) {
      yield { name: `${this.logGroupName}/${name}`, format: this.format, lines: this.lines(name, since, until) };
    }
  }

  private async *streamNames(since: Date): AsyncIterable<string> {
    let nextToken: string | undefined;
    do {
      const page = await withRetry(
        () =>
          this.client.send(
            new DescribeLogStreamsCommand({
              logGroupName: this.logGroupName,
              orderBy: 'LastEventTime',
              descending: true,
              nextToken,
            }),
          ),
        this.retry,
      );
      for (const s of page.logStreams ?? []) {
        // newest first: once a stream's last event is older than the window, so are all the others
        if (s.lastEventTimestamp !== undefined && s.lastEventTimestamp < since.getTime()) return;
        if (s.logStreamName) yield s.logStreamName;
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }

  private async *lines(stream: string, since: Date, until: Date): AsyncIterable<string> {
    let nextToken: string | undefined;
    do {
      const page = await withRetry(
        () =>
          this.client.send(
            new FilterLogEventsCommand({
              logGroupName: this.logGroupName,
              logStreamNames: [stream],
              startTime: since.getTime(),
              endTime: until.getTime() - 1,
              nextToken,
            }),
          ),
        this.retry,
      );
      for (const ev of page.events ?? []) {
        // one event is one log entry; the agent joins a stderr entry's lines into one event
        if (ev.message !== undefined) yield* ev.message.replace(/\n$/, '').split('\n');
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
}

export class S3ReportStore implements ReportStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly keyPrefix = '',
  ) {}

  async put(name: string, body: string, contentType: string): Promise<string> {
    const key = this.keyPrefix + name;
    await withRetry(() =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType })),
    );
    return `s3://${this.bucket}/${key}`;
  }
}
