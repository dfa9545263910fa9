import {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchLogSource, S3ReportStore, withRetry } from '../../../functions/logdigest/aws';

const noSleep = { sleep: async () => undefined };
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

async function collect(src: CloudWatchLogSource, since: Date, until: Date) {
  const out: { name: string; lines: string[] }[] = [];
  for await (const s of src.streams(since, until)) {
    const lines: string[] = [];
    for await (const l of s.lines) lines.push(l);
    out.push({ name: s.name, lines });
  }
  return out;
}

describe('CloudWatchLogSource', () => {
  const logs = mockClient(CloudWatchLogsClient);
  beforeEach(() => logs.reset());
  const since = new Date('2026-11-25T00:00:00Z');
  const until = new Date('2026-11-26T00:00:00Z');

  it('lists streams newest first, stops at streams older than the window, and pages each stream', async () => {
    // Prepare
    logs
      .on(DescribeLogStreamsCommand, { nextToken: undefined })
      .resolves({ logStreams: [{ logStreamName: 'i-new', lastEventTimestamp: until.getTime() - 1 }], nextToken: 'p2' })
      .on(DescribeLogStreamsCommand, { nextToken: 'p2' })
      .resolves({
        logStreams: [
          { logStreamName: 'i-mid', lastEventTimestamp: since.getTime() + 5 },
          { logStreamName: 'i-old', lastEventTimestamp: since.getTime() - 1 },
        ],
        nextToken: 'p3',
      });
    logs
      .on(FilterLogEventsCommand, { logStreamNames: ['i-new'], nextToken: undefined })
      .resolves({ events: [{ message: 'line 1\n\tcontinued' }], nextToken: 'n2' })
      .on(FilterLogEventsCommand, { logStreamNames: ['i-new'], nextToken: 'n2' })
      .resolves({ events: [{ message: 'line 2\n' }] })
      .on(FilterLogEventsCommand, { logStreamNames: ['i-mid'] })
      .resolves({ events: [] });

    // Act
    const got = await collect(
      new CloudWatchLogSource(logs as unknown as CloudWatchLogsClient, '/pgwarden/c1/postgresql', 'stderr', noSleep),
      since,
      until,
    );

    // Assess
    expect(got).toEqual([
      { name: '/pgwarden/c1/postgresql/i-new', lines: ['line 1', '\tcontinued', 'line 2'] },
      { name: '/pgwarden/c1/postgresql/i-mid', lines: [] },
    ]);
    expect(logs).toHaveReceivedCommandTimes(DescribeLogStreamsCommand, 2);
    expect(logs).toHaveReceivedCommandWith(DescribeLogStreamsCommand, {
      logGroupName: '/pgwarden/c1/postgresql',
      orderBy: 'LastEventTime',
      descending: true,
    });
    expect(logs).toHaveReceivedCommandWith(FilterLogEventsCommand, {
      logGroupName: '/pgwarden/c1/postgresql',
      logStreamNames: ['i-new'],
      startTime: since.getTime(),
      endTime: until.getTime() - 1,
      nextToken: 'n2',
    });
  });

  it('retries throttling and gives up on other errors', async () => {
    logs
      .on(DescribeLogStreamsCommand)
      .resolves({ logStreams: [{ logStreamName: 's', lastEventTimestamp: until.getTime() }] });
    logs
      .on(FilterLogEventsCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(throttled())
      .resolves({ events: [{ message: 'ok' }] });
    const got = await collect(
      new CloudWatchLogSource(logs as unknown as CloudWatchLogsClient, 'g', 'jsonlog', noSleep),
      since,
      until,
    );
    expect(got[0].lines).toEqual(['ok']);
    expect(logs).toHaveReceivedCommandTimes(FilterLogEventsCommand, 3);

    logs.reset();
    logs
      .on(DescribeLogStreamsCommand)
      .rejects(Object.assign(new Error('no group'), { name: 'ResourceNotFoundException' }));
    await expect(
      collect(new CloudWatchLogSource(logs as unknown as CloudWatchLogsClient, 'g', 'jsonlog', noSleep), since, until),
    ).rejects.toThrow('no group');
    expect(logs).toHaveReceivedCommandTimes(DescribeLogStreamsCommand, 1);
  });
});

describe('withRetry', () => {
  it('stops after the last attempt', async () => {
    const fn = jest.fn().mockRejectedValue(throttled());
    await expect(withRetry(fn, { attempts: 3, ...noSleep })).rejects.toThrow('Rate exceeded');
    expect(fn).toHaveBeenCalledTimes(3);
  });
});

describe('outputs', () => {
  it('S3ReportStore puts the report under the key prefix', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const uri = await new S3ReportStore(s3 as unknown as S3Client, 'reports', 'digests/c1/').put(
      'x.json',
      '{}',
      'application/json',
    );
    expect(uri).toBe('s3://reports/digests/c1/x.json');
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'reports',
      Key: 'digests/c1/x.json',
      Body: '{}',
      ContentType: 'application/json',
    });
  });
});
