/**
 * The dashboard's AWS source (app/dashboard/aws-source.ts) against the AWS SDK (aws-sdk-client-mock):
 * each part maps the services' answers to the shapes the page reads (those of the lab's control
 * plane), reads every page, and fails on its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { BatchGetTracesCommand, GetTraceSummariesCommand, XRayClient } from '@aws-sdk/client-xray';
import { mockClient } from 'aws-sdk-client-mock';
import { Hono } from 'hono';
import type { Env } from '../../../app/app';
import { readAppConfig } from '../../../app/config';
import {
  awsDashboardSource,
  DASHBOARD_METRICS,
  type AwsDashboardConfig,
  type MetricSeries,
} from '../../../app/dashboard/aws-source';
import { albClientAddress, inCidr, parseCidr } from '../../../app/dashboard/access';
import { mountDashboard } from '../../../app/dashboard/routes';
import { wire } from '../../../app/wiring';
import type { Topology } from '../../../functions/lib/topology';

const dynamodb = mockClient(DynamoDBClient);
const cloudwatch = mockClient(CloudWatchClient);
const sfn = mockClient(SFNClient);
const xray = mockClient(XRayClient);
const s3 = mockClient(S3Client);

const NOW = new Date('2026-12-03T10:00:00Z');
const SM = (wf: string) => `arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-main-${wf}`;
const EXEC = (wf: string, name: string) =>
  `arn:aws:states:eu-west-1:123456789012:execution:pgwarden-main-${wf}:${name}`;
const CFG: AwsDashboardConfig = {
  cluster: 'main',
  topologyTable: 'pgwarden-main-topology',
  stateMachineArns: { failover: SM('failover'), switchover: SM('switchover') },
  digestBucket: 'digests-bucket',
  digestPrefix: 'digests/main/',
  traceFilter: 'service("pgwarden-main-prod-app")',
};
const clients = () => ({
  dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
  cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }),
  sfn: new SFNClient({ region: 'eu-west-1' }),
  xray: new XRayClient({ region: 'eu-west-1' }),
  s3: new S3Client({ region: 'eu-west-1' }),
});
const NO_CACHE = { status: 0, metrics: 0, executions: 0, traces: 0, digest: 0 };
const source = (cacheMs = NO_CACHE, now = () => NOW) => awsDashboardSource(CFG, clients(), { now, cacheMs });

const TOPOLOGY: Topology = {
  cluster: 'main',
  version: 7,
  primary: 'pg2',
  timeline: 3,
  paused: false,
  syncQuorum: 1,
  sync: { primary: 'pg2', quorum: 1, standbys: ['pg1', 'pg3'], sinceLsn: '0/5000000', configured: 1, at: '', by: 'x' },
  nodes: [
    { name: 'pg1', host: '10.40.1.10', port: 5432, backendId: 0, role: 'standby', instanceId: 'i-1' },
    { name: 'pg2', host: '10.40.2.10', port: 5432, backendId: 1, role: 'primary', instanceId: 'i-2' },
    { name: 'pg3', host: '10.40.3.10', port: 5432, backendId: 2, role: 'standby', instanceId: 'i-3', stale: true },
    { name: 'pg4', host: '10.40.1.11', port: 5432, backendId: 3, role: 'removed', instanceId: 'i-4' },
  ],
  pgpools: [{ name: 'pgpool1', host: '10.40.1.20', port: 9999, pcpPort: 9898, instanceId: 'i-p1' }],
  history: [],
};
const topologyItem = (t: Topology = TOPOLOGY) => ({
  Item: { cluster: { S: t.cluster }, version: { N: String(t.version) }, document: { S: JSON.stringify(t) } },
});

type Query = {
  Id: string;
  MetricStat: { Metric: { MetricName: string; Dimensions: { Name: string; Value: string }[] } };
};
const dimsOf = (q: Query) => Object.fromEntries(q.MetricStat.Metric.Dimensions.map((d) => [d.Name, d.Value]));

/** GetMetricData answers: per metric and node, values at the given seconds before NOW. */
function metricAnswers(values: Record<string, [number, number][]>, pages = 1) {
  cloudwatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: Query[]; NextToken?: string }) => {
    const page = input.NextToken ? Number(input.NextToken) : 0;
    const results = input.MetricDataQueries.flatMap((q) => {
      const d = dimsOf(q);
      const key = d.Node ? `${q.MetricStat.Metric.MetricName}/${d.Node}` : q.MetricStat.Metric.MetricName;
      const points = (values[key] ?? []).filter((_, i) => i % pages === page);
      return [
        {
          Id: q.Id,
          Timestamps: points.map(([s]) => new Date(NOW.getTime() - s * 1000)),
          Values: points.map(([, v]) => v),
        },
      ];
    });
    return { MetricDataResults: results, NextToken: page + 1 < pages ? String(page + 1) : undefined };
  });
}

/** GetObject's Body as the SDK hands it over (a stream with transformToString). */
const body = (s: string) => ({ transformToString: async () => s });

beforeEach(() => {
  for (const m of [dynamodb, cloudwatch, sfn, xray, s3]) m.reset();
});

describe('status', () => {
  it('maps the topology item, the prober latest values and the alarms in ALARM to the page status', async () => {
    dynamodb.on(GetItemCommand).resolves(topologyItem());
    metricAnswers({
      'NodeUp/pg1': [
        [60, 1],
        [10, 1],
      ],
      'NodeUp/pg2': [[10, 1]],
      'NodeUp/pg3': [[10, 0]],
      'ReplicationLagBytes/pg1': [
        [20, 4096],
        [10, 512],
      ],
    });
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: 'pgwarden-main-primary-unwritable', StateValue: 'OK' },
        { AlarmName: 'pgwarden-main-xid-age', StateValue: 'ALARM', StateReason: 'xid age' },
      ],
    });
    const s = (await source().status()) as Record<string, unknown>;
    expect(s).toMatchObject({
      cluster: 'main',
      automation: 'active',
      timeline: 3,
      topologyPrimary: 'pg2',
      synchronous: 'ANY 1 (pg1, pg3) in force',
      alarms: { 'pgwarden-main-xid-age': 'ALARM' },
    });
    expect(s.pgpools).toBeUndefined();
    expect(s.pgpoolsUnavailable).toMatch(/n\/a/);
    expect(s.nodes).toEqual([
      {
        name: 'pg1',
        host: '10.40.1.10',
        port: 5432,
        instanceId: 'i-1',
        role: 'standby',
        expectedRole: 'standby',
        fenced: false,
        up: true,
        upstream: 'pg2',
        streaming: true,
        lagBytes: 512,
      },
      {
        name: 'pg2',
        host: '10.40.2.10',
        port: 5432,
        instanceId: 'i-2',
        role: 'primary',
        expectedRole: 'primary',
        fenced: false,
        up: true,
      },
      {
        name: 'pg3',
        host: '10.40.3.10',
        port: 5432,
        instanceId: 'i-3',
        role: 'down',
        expectedRole: 'standby',
        fenced: false,
        up: false,
        stale: true,
        error: expect.stringMatching(/stale/),
      },
    ]);
    // One GetItem of the cluster's item, consistent; the alarms by the cluster's prefix.
    expect(dynamodb.commandCalls(GetItemCommand)[0].args[0].input).toEqual({
      TableName: 'pgwarden-main-topology',
      Key: { cluster: { S: 'main' } },
      ConsistentRead: true,
    });
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)[0].args[0].input.AlarmNamePrefix).toBe('pgwarden-main-');
  });

  it('without probe values or alarms still answers the topology, saying what is missing (n/a, not a break)', async () => {
    dynamodb.on(GetItemCommand).resolves(topologyItem({ ...TOPOLOGY, paused: true, pausedReason: 'upgrade' }));
    cloudwatch.on(GetMetricDataCommand).rejects(new Error('throttled'));
    cloudwatch.on(DescribeAlarmsCommand).rejects(new Error('AccessDenied'));
    const s = (await source().status()) as { nodes: Record<string, unknown>[]; [k: string]: unknown };
    expect(s.automation).toBe('paused (upgrade)');
    expect(s.alarms).toBeUndefined();
    expect(s.alarmsError).toBe('AccessDenied');
    expect(s.probeError).toBe('throttled');
    expect(s.nodes.map((n) => [n.name, n.role, n.up, n.streaming])).toEqual([
      ['pg1', 'standby', undefined, undefined],
      ['pg2', 'primary', undefined, undefined],
      ['pg3', 'standby', undefined, undefined],
    ]);
  });

  it('fails with a clear error when the cluster has no topology item', async () => {
    dynamodb.on(GetItemCommand).resolves({});
    await expect(source().status()).rejects.toThrow(
      'no topology for cluster "main" (no item in DynamoDB table pgwarden-main-topology)',
    );
  });
});

describe('metrics', () => {
  it('reads the charted series of the last hour, every page, per node from the topology', async () => {
    dynamodb.on(GetItemCommand).resolves(topologyItem());
    metricAnswers(
      {
        PrimaryProbeLatency: [
          [30, 4],
          [20, 5],
          [10, 6],
        ],
        'ReplicationLagBytes/pg1': [
          [20, 100],
          [10, 200],
        ],
        Timeline: [[10, 3]],
      },
      2,
    );
    const m = (await source().metrics()) as { source: string; series: MetricSeries[] };
    expect(m.source).toBe('CloudWatch');
    expect(m.series).toEqual([
      {
        name: 'PrimaryProbeLatency',
        dimensions: { Cluster: 'main' },
        samples: [
          { t: NOW.getTime() - 30_000, v: 4 },
          { t: NOW.getTime() - 20_000, v: 5 },
          { t: NOW.getTime() - 10_000, v: 6 },
        ],
      },
      {
        name: 'ReplicationLagBytes',
        dimensions: { Cluster: 'main', Node: 'pg1' },
        samples: [
          { t: NOW.getTime() - 20_000, v: 100 },
          { t: NOW.getTime() - 10_000, v: 200 },
        ],
      },
      { name: 'Timeline', dimensions: { Cluster: 'main' }, samples: [{ t: NOW.getTime() - 10_000, v: 3 }] },
    ]);
    const calls = cloudwatch.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input.NextToken).toBe('1');
    const input = calls[0].args[0].input;
    expect(input.StartTime).toEqual(new Date(NOW.getTime() - 3_600_000));
    expect(input.EndTime).toEqual(NOW);
    const asked = (input.MetricDataQueries as unknown as Query[]).map((q) => [
      q.MetricStat.Metric.MetricName,
      dimsOf(q),
    ]);
    // Every node but the removed one, for the per-node charts.
    expect(asked).toContainEqual(['NodeUp', { Cluster: 'main', Node: 'pg3' }]);
    expect(asked).not.toContainEqual(['NodeUp', { Cluster: 'main', Node: 'pg4' }]);
    expect(asked).toContainEqual(['TransactionsLast10Min', { Cluster: 'main' }]);
    expect(JSON.stringify(input.MetricDataQueries)).toContain('"Namespace":"pgwarden"');
  });

  it('charts exactly what the page charts (client.js CHARTS)', () => {
    const client = readFileSync(join(__dirname, '../../../app/dashboard/client.js'), 'utf8');
    const charts = [...client.matchAll(/metric: '(\w+)', by: (null|'(\w+)')/g)].map((m) => [m[1], m[3] ?? null]);
    expect(charts.length).toBeGreaterThan(0);
    expect(DASHBOARD_METRICS.map((d) => [d.metric, d.by])).toEqual(charts);
  });

  it('without the topology still reads the cluster-wide series', async () => {
    dynamodb.on(GetItemCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    metricAnswers({ StreamingStandbys: [[10, 2]] });
    const m = (await source().metrics()) as { series: MetricSeries[] };
    expect(m.series.map((s) => s.name)).toEqual(['StreamingStandbys']);
  });
});

describe('executions', () => {
  const t0 = new Date('2026-12-03T09:50:00Z');
  let id = 0;
  const ev = (type: string, prev: number, ms: number, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
    id: ++id,
    previousEventId: prev,
    type: type as HistoryEvent['type'],
    timestamp: new Date(t0.getTime() + ms),
    ...extra,
  });
  beforeEach(() => {
    id = 0;
  });

  it('lists recent executions of every state machine oldest first with their steps, outcome and offsets', async () => {
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('failover') }).resolves({
      executions: [
        {
          executionArn: EXEC('failover', 'f1'),
          stateMachineArn: SM('failover'),
          name: 'f1',
          status: 'SUCCEEDED',
          startDate: t0,
          stopDate: new Date(t0.getTime() + 900),
        },
      ],
    });
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('switchover') }).resolves({
      executions: [
        {
          executionArn: EXEC('switchover', 's1'),
          stateMachineArn: SM('switchover'),
          name: 's1',
          status: 'RUNNING',
          startDate: new Date(t0.getTime() + 60_000),
        },
      ],
    });
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC('failover', 'f1') }).resolves({
      executionArn: EXEC('failover', 'f1'),
      stateMachineArn: SM('failover'),
      name: 'f1',
      status: 'SUCCEEDED',
      startDate: t0,
      stopDate: new Date(t0.getTime() + 900),
      output: JSON.stringify({ record: { outcome: 'promoted pg2' } }),
    });
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC('switchover', 's1') }).resolves({
      executionArn: EXEC('switchover', 's1'),
      stateMachineArn: SM('switchover'),
      name: 's1',
      status: 'RUNNING',
      startDate: new Date(t0.getTime() + 60_000),
    });
    // The failover's history comes in two pages.
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: EXEC('failover', 'f1') })
      .resolvesOnce({
        events: [
          ev('ExecutionStarted', 0, 0),
          ev('TaskStateEntered', 1, 100, { stateEnteredEventDetails: { name: 'AssessPrimary' } }),
          ev('LambdaFunctionScheduled', 2, 110),
        ],
        nextToken: 'p2',
      })
      .resolvesOnce({
        events: [
          ev('LambdaFunctionSucceeded', 3, 400),
          ev('TaskStateExited', 4, 400, { stateExitedEventDetails: { name: 'AssessPrimary' } }),
          ev('ExecutionSucceeded', 5, 900),
        ],
      });
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXEC('switchover', 's1') }).resolves({ events: [] });

    const src = source();
    const x = (await src.executions()) as { executions: Record<string, unknown>[] };
    expect(x.executions.map((e) => [e.name, e.workflow, e.status])).toEqual([
      ['f1', 'failover', 'SUCCEEDED'],
      ['s1', 'switchover', 'RUNNING'],
    ]);
    expect(x.executions[0]).toMatchObject({
      durationMs: 900,
      output: { record: { outcome: 'promoted pg2' } },
      steps: [{ state: 'AssessPrimary', durationMs: 300, attempts: 1, offsetMs: 100 }],
    });
    // A running execution has lasted until now.
    expect(x.executions[1].durationMs).toBe(NOW.getTime() - t0.getTime() - 60_000);
    expect(sfn.commandCalls(GetExecutionHistoryCommand, { executionArn: EXEC('failover', 'f1') })).toHaveLength(2);

    // A finished execution is not read again; a running one is.
    const before = sfn.commandCalls(DescribeExecutionCommand).length;
    await src.executions();
    expect(
      sfn
        .commandCalls(DescribeExecutionCommand)
        .slice(before)
        .map((c) => c.args[0].input.executionArn),
    ).toEqual([EXEC('switchover', 's1')]);
    expect(sfn.commandCalls(GetExecutionHistoryCommand, { executionArn: EXEC('failover', 'f1') })).toHaveLength(2);
  });
});

describe('traces', () => {
  const doc = (d: Record<string, unknown>) => JSON.stringify(d);
  it('reads the last 10 minutes of summaries, every page, and each trace newest first as a timeline', async () => {
    xray
      .on(GetTraceSummariesCommand)
      .resolvesOnce({ TraceSummaries: [{ Id: '1-a', StartTime: new Date(NOW.getTime() - 60_000) }], NextToken: 'n2' })
      .resolvesOnce({ TraceSummaries: [{ Id: '1-b', StartTime: new Date(NOW.getTime() - 5_000) }] });
    const t = NOW.getTime() / 1000;
    xray.on(BatchGetTracesCommand).resolves({
      Traces: [
        {
          Id: '1-b',
          Segments: [
            {
              Id: 'f1',
              Document: doc({
                id: 'f1',
                trace_id: '1-b',
                name: 'pgwarden-main-prod-app',
                start_time: t - 5,
                end_time: t - 4.9,
                subsegments: [
                  {
                    id: 's1',
                    name: 'GET /api/values/7',
                    start_time: t - 4.99,
                    end_time: t - 4.92,
                    http: {
                      request: { method: 'GET', url: 'https://app.example.com/api/values/7' },
                      response: { status: 200 },
                    },
                    subsegments: [{ id: 's2', name: 'redis GET', start_time: t - 4.98, end_time: t - 4.97 }],
                  },
                ],
              }),
            },
            { Id: 'bad', Document: 'not json' },
          ],
        },
        {
          Id: '1-a',
          Segments: [
            {
              Id: 'g1',
              Document: doc({
                id: 'g1',
                trace_id: '1-a',
                name: 'x',
                start_time: t - 60,
                end_time: t - 59.5,
                http: { request: { method: 'POST', url: '/api/values' }, response: { status: 201 } },
              }),
            },
          ],
        },
      ],
    });
    const r = (await source().traces()) as { traces: Record<string, unknown>[] };
    expect(r.traces.map((x) => [x.id, x.method, x.url, x.status])).toEqual([
      ['1-b', 'GET', 'https://app.example.com/api/values/7', 200],
      ['1-a', 'POST', 'http://app/api/values', 201],
    ]);
    expect(r.traces[0].spans).toEqual([
      expect.objectContaining({ name: 'pgwarden-main-prod-app', depth: 0, offsetMs: 0 }),
      expect.objectContaining({ name: 'GET /api/values/7', depth: 1, offsetMs: 10 }),
      expect.objectContaining({ name: 'redis GET', depth: 2, offsetMs: 20, durationMs: 10 }),
    ]);
    const q = xray.commandCalls(GetTraceSummariesCommand);
    expect(q).toHaveLength(2);
    expect(q[0].args[0].input).toMatchObject({
      StartTime: new Date(NOW.getTime() - 600_000),
      EndTime: NOW,
      FilterExpression: 'service("pgwarden-main-prod-app")',
    });
    expect(q[1].args[0].input.NextToken).toBe('n2');
    expect(xray.commandCalls(BatchGetTracesCommand)[0].args[0].input.TraceIds).toEqual(['1-b', '1-a']);
  });

  it('asks BatchGetTraces for at most 5 traces at a time and shows at most 10', async () => {
    xray.on(GetTraceSummariesCommand).resolves({
      TraceSummaries: Array.from({ length: 12 }, (_, i) => ({
        Id: `1-${i}`,
        StartTime: new Date(NOW.getTime() - i * 1000),
      })),
    });
    xray.on(BatchGetTracesCommand).resolves({ Traces: [] });
    await source().traces();
    const sizes = xray.commandCalls(BatchGetTracesCommand).map((c) => c.args[0].input.TraceIds!.length);
    expect(sizes).toEqual([5, 5]);
  });
});

describe('digest', () => {
  it('reads the latest report of the cluster, listing every page', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: [
          { Key: 'digests/main/main-2026-12-02T02-15-00Z.json' },
          { Key: 'digests/main/main-2026-12-03T02-15-00Z.html' },
        ],
        NextContinuationToken: 'c2',
      })
      .resolvesOnce({
        Contents: [
          { Key: 'digests/main/main-2026-12-03T02-15-00Z.json' },
          { Key: 'digests/main/main-2026-12-01T02-15-00Z.json' },
        ],
      });
    const report = {
      generated_at: '2026-12-03T02:15:09Z',
      totals: { statements: 9 },
      input: { entries: 3, bytes: 10, sources: [] },
    };
    s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify(report)) as never });
    const d = await source().digest();
    expect(d).toEqual({ ...report, key: 'digests/main/main-2026-12-03T02-15-00Z.json' });
    const lists = s3.commandCalls(ListObjectsV2Command);
    expect(lists.map((c) => [c.args[0].input.Prefix, c.args[0].input.ContinuationToken])).toEqual([
      ['digests/main/', undefined],
      ['digests/main/', 'c2'],
    ]);
    expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({
      Bucket: 'digests-bucket',
      Key: 'digests/main/main-2026-12-03T02-15-00Z.json',
    });
  });

  it('says so when there is no report yet, or the object is not a report', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    await expect(source().digest()).rejects.toThrow('no digest report under s3://digests-bucket/digests/main/ yet');
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'digests/main/main-2026-12-03T02-15-00Z.json' }] });
    s3.on(GetObjectCommand).resolves({ Body: body('{"hello": 1}') as never });
    await expect(source().digest()).rejects.toThrow(/is not a digest report/);
  });
});

describe('the parts fail apart', () => {
  it('one service failing leaves the others answering, and the route answers 502 for that part only', async () => {
    dynamodb.on(GetItemCommand).resolves(topologyItem());
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    cloudwatch.on(DescribeAlarmsCommand).resolves({});
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    xray.on(GetTraceSummariesCommand).rejects(new Error('AccessDeniedException: not authorized'));
    s3.on(ListObjectsV2Command).rejects(new Error('NoSuchBucket'));
    const app = new Hono<Env>();
    mountDashboard(app, source());
    const get = async (p: string) => {
      const r = await app.request(`/dashboard/api/${p}`);
      return [r.status, await r.json()];
    };
    expect((await get('status'))[0]).toBe(200);
    expect(await get('metrics')).toEqual([200, { source: 'CloudWatch', series: [] }]);
    expect(await get('executions')).toEqual([200, { executions: [] }]);
    expect(await get('traces')).toEqual([502, { error: 'traces unavailable: AccessDeniedException: not authorized' }]);
    expect(await get('digest')).toEqual([502, { error: 'digest unavailable: NoSuchBucket' }]);
  });

  it('keeps an answer a few seconds, and never keeps a failure', async () => {
    let now = NOW;
    const src = source({ ...NO_CACHE, digest: 60_000 }, () => now);
    s3.on(ListObjectsV2Command).rejectsOnce(new Error('SlowDown')).resolves({ Contents: [] });
    await expect(src.digest()).rejects.toThrow('SlowDown');
    await expect(src.digest()).rejects.toThrow('no digest report');
    // Failures are not kept: each call above asked S3.
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'digests/main/main-2026-12-03T02-15-00Z.json' }] });
    s3.on(GetObjectCommand).resolves({ Body: body('{"totals":{},"input":{}}') as never });
    await src.digest();
    now = new Date(NOW.getTime() + 59_000);
    await src.digest();
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    now = new Date(NOW.getTime() + 61_000);
    await src.digest();
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
  });
});

describe('configuration (PGWARDEN_APP_DASHBOARD_*)', () => {
  const base = { PGWARDEN_APP_DATABASE_URL: 'postgresql://app@127.0.0.1:1/app' };
  const full = {
    ...base,
    PGWARDEN_APP_DASHBOARD_CLUSTER: 'main',
    PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE: 'pgwarden-main-topology',
    PGWARDEN_APP_DASHBOARD_STATE_MACHINE_ARNS: JSON.stringify({ failover: SM('failover') }),
    PGWARDEN_APP_DASHBOARD_DIGEST_BUCKET: 'b',
    PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR: '203.0.113.0/24',
    AWS_LAMBDA_FUNCTION_NAME: 'pgwarden-main-prod-app',
  };
  it('mounts nothing when unset; reads every value with defaults when set', () => {
    expect(readAppConfig(base).awsDashboard).toBeUndefined();
    expect(readAppConfig(full).awsDashboard).toEqual({
      cluster: 'main',
      allowedCidr: { base: 0xcb007100, bits: 24 },
      topologyTable: 'pgwarden-main-topology',
      stateMachineArns: { failover: SM('failover') },
      digestBucket: 'b',
      digestPrefix: 'digests/main/',
      traceFilter: 'service("pgwarden-main-prod-app")',
    });
  });
  it('names the variable that is missing or wrong', () => {
    const { PGWARDEN_APP_DASHBOARD_DIGEST_BUCKET: _b, ...noBucket } = full;
    expect(() => readAppConfig(noBucket)).toThrow(
      'environment variable PGWARDEN_APP_DASHBOARD_DIGEST_BUCKET is required when PGWARDEN_APP_DASHBOARD_CLUSTER is set',
    );
    expect(() => readAppConfig({ ...full, PGWARDEN_APP_DASHBOARD_STATE_MACHINE_ARNS: '{"failover": "nope"}' })).toThrow(
      /PGWARDEN_APP_DASHBOARD_STATE_MACHINE_ARNS maps "failover" to something that is not a state machine ARN/,
    );
    const { PGWARDEN_APP_DASHBOARD_CLUSTER: _c, ...noCluster } = full;
    expect(() => readAppConfig(noCluster)).toThrow(
      'environment variable PGWARDEN_APP_DASHBOARD_CLUSTER is required when PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE is set',
    );
    for (const bad of ['0.0.0.0', '10.0.0.0/33', '300.1.1.1/8', '2001:db8::/32', '10.0.0.0/8,10.1.0.0/16'])
      expect(() => readAppConfig({ ...full, PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR: bad })).toThrow(
        `environment variable PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR must be an IPv4 CIDR block such as 203.0.113.0/24, got "${bad}"`,
      );
  });
  it('stays closed (not mounted) without an allowed source block, its other settings still checked', () => {
    const { PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR: _a, ...closed } = full;
    expect(readAppConfig(closed).awsDashboard).toBeUndefined();
    expect(readAppConfig({ ...closed, PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR: '' }).awsDashboard).toBeUndefined();
    const { PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE: _t, ...noTable } = closed;
    expect(() => readAppConfig(noTable)).toThrow(/PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE is required/);
  });
});

describe('who may see the dashboard in AWS (app/dashboard/access.ts)', () => {
  const env = {
    PGWARDEN_APP_DATABASE_URL: 'postgresql://app@127.0.0.1:1/app',
    PGWARDEN_APP_TRACING: 'off',
    PGWARDEN_APP_DASHBOARD_CLUSTER: 'main',
    PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE: 'pgwarden-main-topology',
    PGWARDEN_APP_DASHBOARD_STATE_MACHINE_ARNS: JSON.stringify({ failover: SM('failover') }),
    PGWARDEN_APP_DASHBOARD_DIGEST_BUCKET: 'b',
    PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR: '198.51.100.0/24',
  };
  let wired: ReturnType<typeof wire>;
  beforeEach(() => {
    dynamodb.on(GetItemCommand).resolves(topologyItem());
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    cloudwatch.on(DescribeAlarmsCommand).resolves({});
    const cfg = readAppConfig(env);
    // As the Lambda wires it: the configured dashboard, with its guard.
    wired = wire(cfg, env.PGWARDEN_APP_DATABASE_URL, source());
  });
  afterEach(() => wired.close());
  const get = (path: string, xff?: string) =>
    wired.app.request(path, { headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });

  it('answers a client inside the block, the address being the one the ALB appended last', async () => {
    const r = await get('/dashboard/api/status', '198.51.100.7');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ source: 'AWS', topologyPrimary: 'pg2' });
    // What a client claims before the ALB's own entry does not count, either way.
    expect((await get('/dashboard/api/status', '203.0.113.5, 198.51.100.7')).status).toBe(200);
    expect((await get('/dashboard', '198.51.100.7')).status).toBe(200);
  });

  it('refuses everyone else with 403 and reads no data, however the path is spelled', async () => {
    for (const [path, xff] of [
      ['/dashboard/api/status', '203.0.113.5'],
      ['/dashboard/api/status', '198.51.100.7, 203.0.113.5'],
      ['/dashboard/api/status', undefined],
      ['/dashboard/api/status', ''],
      ['/dashboard/api/status', '2001:db8::1'],
      ['/dashboard', '203.0.113.5'],
      ['/dashboard/client.js', '203.0.113.5'],
      ['/%64ashboard/api/status', '203.0.113.5'],
      ['/dashboard/api/%73tatus', '203.0.113.5'],
    ] as const) {
      const r = await get(path, xff);
      expect([path, xff, r.status]).toEqual([path, xff, 403]);
      expect(await r.text()).toContain('DashboardAllowedCidr');
    }
    expect(dynamodb.commandCalls(GetItemCommand)).toHaveLength(0);
    // The app's own API stays public.
    expect((await get('/healthz', '203.0.113.5')).status).toBe(200);
  });
});

describe('parseCidr, inCidr, albClientAddress', () => {
  const block = (t: string) => {
    const c = parseCidr(t);
    if (c instanceof Error) throw c;
    return c;
  };
  it('matches addresses by prefix, the host bits of the block ignored', () => {
    expect(inCidr('10.1.2.3', block('10.0.0.0/8'))).toBe(true);
    expect(inCidr('11.1.2.3', block('10.0.0.0/8'))).toBe(false);
    expect(inCidr('10.1.2.3', block('10.1.2.99/24'))).toBe(true);
    expect(inCidr('192.0.2.1', block('192.0.2.1/32'))).toBe(true);
    expect(inCidr('192.0.2.2', block('192.0.2.1/32'))).toBe(false);
    expect(inCidr('8.8.8.8', block('0.0.0.0/0'))).toBe(true);
    expect(inCidr('::ffff:10.0.0.1', block('10.0.0.0/8'))).toBe(true);
    expect(inCidr('2001:db8::1', block('0.0.0.0/0'))).toBe(false);
    expect(inCidr('10.0.0', block('0.0.0.0/0'))).toBe(false);
  });
  it('takes the last X-Forwarded-For entry', () => {
    expect(albClientAddress('1.1.1.1, 2.2.2.2')).toBe('2.2.2.2');
    expect(albClientAddress('2.2.2.2')).toBe('2.2.2.2');
    expect(albClientAddress(undefined)).toBeUndefined();
    expect(albClientAddress('1.1.1.1, ')).toBeUndefined();
  });
});
