/**
 * The dashboard's data in AWS (the app Lambda behind the ALB), in the shapes the lab's control plane
 * serves (infra/local/controlplane/server.ts), so that the same page works:
 *   status      the topology item (DynamoDB GetItem), the prober's latest NodeUp and
 *               ReplicationLagBytes (CloudWatch GetMetricData), the cluster's alarms in ALARM
 *               (DescribeAlarms); no pgpool view (only the VPC's nodes reach pgpool's SHOW POOL_NODES)
 *   metrics     the series the page charts, last hour (GetMetricData, every page)
 *   executions  recent executions of the cluster's state machines with their steps (Step Functions)
 *   traces      the app's traces of the last 10 minutes (X-Ray GetTraceSummaries + BatchGetTraces)
 *   digest      the latest nightly digest report (S3 ListObjectsV2 + GetObject)
 * Each part fails on its own (the route answers 502 with the message); the page polls every 2 s, so
 * each part's answer is kept a few seconds (Step Functions and X-Ray allow only a few reads per second).
 */
import { type CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { BatchGetTracesCommand, GetTraceSummariesCommand, type XRayClient } from '@aws-sdk/client-xray';
import { CloudWatchAlarms } from '../../functions/lib/aws/cloudwatch-alarms';
import { SfnExecutions, type ExecutionView, type StateMachineArns } from '../../functions/lib/aws/sfn-executions';
import { parseTopologyItem, TopologyNotFoundError } from '../../functions/lib/aws/topology-item';
import { METRIC_NAMESPACE } from '../../functions/lib/ports';
import { syncDegraded, type Topology } from '../../functions/lib/topology';
import type { DashboardSource } from './routes';
import { timeline, type SegmentDoc, type TraceView } from './trace-timeline';

export interface AwsDashboardConfig {
  cluster: string;
  /** The topology table (PGWARDEN_TOPOLOGY_TABLE's table). */
  topologyTable: string;
  /** workflow -> state machine ARN. */
  stateMachineArns: StateMachineArns;
  /** The digest bucket and the key prefix the nightly digest writes under (digests/<cluster>/). */
  digestBucket: string;
  digestPrefix: string;
  /** X-Ray filter expression for the app's traces, e.g. service("pgwarden-main-prod-app"). */
  traceFilter?: string;
}

export interface AwsDashboardClients {
  dynamodb: DynamoDBClient;
  cloudwatch: CloudWatchClient;
  sfn: SFNClient;
  xray: XRayClient;
  s3: S3Client;
}

export interface AwsDashboardOptions {
  now?: () => Date;
  /** How long each part's answer is reused (ms); 0 = never. */
  cacheMs?: Partial<Record<keyof DashboardSource, number>>;
}

/** What the page charts (app/dashboard/client.js CHARTS): metric, its per-node dimension, period, statistic. */
export const DASHBOARD_METRICS = [
  { metric: 'PrimaryProbeLatency', by: null, period: 10, stat: 'Average' },
  { metric: 'ReplicationLagBytes', by: 'Node', period: 10, stat: 'Average' },
  { metric: 'StreamingStandbys', by: null, period: 10, stat: 'Minimum' },
  { metric: 'NodeUp', by: 'Node', period: 10, stat: 'Minimum' },
  { metric: 'Timeline', by: null, period: 10, stat: 'Maximum' },
  { metric: 'TransactionsLast10Min', by: null, period: 60, stat: 'Average' },
] as const;

export const DEFAULT_CACHE_MS: Record<keyof DashboardSource, number> = {
  status: 5_000,
  metrics: 30_000,
  executions: 10_000,
  traces: 10_000,
  digest: 300_000,
};
/** Executions the page shows (client.js shows the last 8). */
export const EXECUTIONS_SHOWN = 8;
/** Traces the page shows, newest first (client.js shows 10), from the last TRACE_WINDOW_MS. */
export const TRACES_SHOWN = 10;
export const TRACE_WINDOW_MS = 10 * 60_000;
/** BatchGetTraces takes at most 5 trace ids per call. */
const TRACE_IDS_PER_CALL = 5;
/** GetTraceSummaries pages read at most (a busy app has many; the newest are enough). */
const TRACE_SUMMARY_PAGES = 5;

export interface MetricSeries {
  name: string;
  dimensions: Record<string, string>;
  samples: { t: number; v: number }[];
}

interface Query {
  id: string;
  name: string;
  dimensions: Record<string, string>;
  period: number;
  stat: string;
}

export function awsDashboardSource(
  cfg: AwsDashboardConfig,
  clients: AwsDashboardClients,
  opts: AwsDashboardOptions = {},
): DashboardSource {
  for (const k of ['cluster', 'topologyTable', 'digestBucket'] as const)
    if (!cfg[k]) throw new Error(`the AWS dashboard needs ${k}`);
  if (!Object.keys(cfg.stateMachineArns).length) throw new Error('the AWS dashboard needs the state machine ARNs');
  const now = opts.now ?? (() => new Date());
  const alarms = new CloudWatchAlarms(clients.cloudwatch);
  const sfn = new SfnExecutions(clients.sfn);
  /** Finished executions do not change: their description and steps are read once. */
  const finished = new Map<string, ExecutionView>();

  const topology = async (): Promise<Topology> => {
    const r = await clients.dynamodb.send(
      new GetItemCommand({ TableName: cfg.topologyTable, Key: { cluster: { S: cfg.cluster } }, ConsistentRead: true }),
    );
    if (!r.Item) throw new TopologyNotFoundError(cfg.cluster, cfg.topologyTable);
    return parseTopologyItem(r.Item, cfg.cluster);
  };
  const liveNodes = (t: Topology) => t.nodes.filter((n) => n.role !== 'removed');

  /** GetMetricData over [from, to), every page, one series per query (empty ones dropped). */
  const metricData = async (queries: Query[], from: Date, to: Date): Promise<MetricSeries[]> => {
    const byId = new Map(queries.map((q) => [q.id, { q, samples: [] as { t: number; v: number }[] }]));
    const MetricDataQueries: MetricDataQuery[] = queries.map((q) => ({
      Id: q.id,
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: METRIC_NAMESPACE,
          MetricName: q.name,
          Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: q.period,
        Stat: q.stat,
      },
    }));
    let NextToken: string | undefined;
    do {
      const r = await clients.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries,
          StartTime: from,
          EndTime: to,
          ScanBy: 'TimestampAscending',
          NextToken,
        }),
      );
      for (const res of r.MetricDataResults ?? []) {
        const s = res.Id ? byId.get(res.Id) : undefined;
        if (!s) continue;
        (res.Timestamps ?? []).forEach((ts, i) => {
          const v = res.Values?.[i];
          if (v !== undefined) s.samples.push({ t: new Date(ts).getTime(), v });
        });
      }
      NextToken = r.NextToken;
    } while (NextToken);
    return [...byId.values()]
      .filter((s) => s.samples.length)
      .map(({ q, samples }) => ({
        name: q.name,
        dimensions: q.dimensions,
        samples: samples.sort((a, b) => a.t - b.t),
      }));
  };

  const queriesFor = (defs: readonly (typeof DASHBOARD_METRICS)[number][], nodes: string[]): Query[] => {
    const out: Query[] = [];
    for (const d of defs) {
      const base = { name: d.metric, period: d.period, stat: d.stat };
      if (d.by === null) out.push({ ...base, id: `m${out.length}`, dimensions: { Cluster: cfg.cluster } });
      else
        for (const n of nodes)
          out.push({ ...base, id: `m${out.length}`, dimensions: { Cluster: cfg.cluster, [d.by]: n } });
    }
    return out;
  };

  async function status() {
    const t = await topology();
    const nodes = liveNodes(t);
    const to = now();
    const [probe, alarmList] = await Promise.allSettled([
      metricData(
        queriesFor(
          DASHBOARD_METRICS.filter((d) => d.metric === 'NodeUp' || d.metric === 'ReplicationLagBytes'),
          nodes.map((n) => n.name),
        ),
        new Date(to.getTime() - 3 * 60_000),
        to,
      ),
      alarms.list(`pgwarden-${cfg.cluster}-`),
    ]);
    const latest = (metric: string, node: string): { t: number; v: number } | undefined => {
      if (probe.status !== 'fulfilled') return undefined;
      const s = probe.value.find((x) => x.name === metric && x.dimensions.Node === node);
      return s?.samples[s.samples.length - 1];
    };
    const degraded = syncDegraded(t);
    return {
      cluster: t.cluster,
      source: 'AWS',
      automation: t.paused ? `paused${t.pausedReason ? ` (${t.pausedReason})` : ''}` : 'active',
      topologyPrimary: t.primary,
      timeline: t.timeline,
      topologyVersion: t.version,
      synchronous: degraded
        ? `DEGRADED: ${degraded}`
        : t.sync
          ? t.sync.quorum > 0
            ? `ANY ${t.sync.quorum} (${t.sync.standbys.join(', ')}) in force`
            : 'asynchronous (configured)'
          : t.syncQuorum > 0
            ? `ANY ${t.syncQuorum} configured (nothing recorded yet)`
            : 'asynchronous (configured)',
      nodes: nodes.map((n) => {
        const up = latest('NodeUp', n.name);
        const lag = latest('ReplicationLagBytes', n.name);
        // The prober publishes ReplicationLagBytes for streaming standbys only: a recent value means
        // streaming; none tells nothing (the page shows n/a).
        const down = up !== undefined && up.v < 1;
        return {
          name: n.name,
          host: n.host,
          port: n.port,
          instanceId: n.instanceId,
          role: down ? 'down' : n.role,
          expectedRole: n.role,
          fenced: n.role === 'fenced',
          ...(up !== undefined ? { up: !down } : {}),
          ...(n.role === 'standby' && !n.stale ? { upstream: t.primary } : {}),
          ...(lag !== undefined ? { streaming: true, lagBytes: lag.v } : {}),
          ...(n.stale ? { stale: true, error: 'stale: left on an older timeline, waiting for a rejoin' } : {}),
          ...(n.maintenance ? { maintenance: true } : {}),
        };
      }),
      // pgpool's own view (SHOW POOL_NODES) is reachable from the VPC's nodes only.
      pgpoolsUnavailable: 'pgpool view n/a in AWS (the dashboard reads no pgpool)',
      ...(alarmList.status === 'fulfilled'
        ? {
            alarms: Object.fromEntries(
              alarmList.value.filter((a) => a.state === 'ALARM').map((a) => [a.name, a.state]),
            ),
          }
        : { alarmsError: (alarmList.reason as Error).message }),
      ...(probe.status === 'rejected' ? { probeError: (probe.reason as Error).message } : {}),
    };
  }

  async function metrics() {
    const to = now();
    // Per-node series need the node names; without the topology the cluster-wide ones still show.
    const names = await topology().then(
      (t) => liveNodes(t).map((n) => n.name),
      () => [] as string[],
    );
    return {
      source: 'CloudWatch',
      series: await metricData(queriesFor(DASHBOARD_METRICS, names), new Date(to.getTime() - 3_600_000), to),
    };
  }

  async function executions() {
    const t = now().getTime();
    const recent = await sfn.recent(cfg.stateMachineArns, EXECUTIONS_SHOWN);
    const out = await Promise.all(
      recent.map(async (e) => {
        const done = finished.get(e.arn);
        if (done) return done;
        const [d, steps] = await Promise.all([sfn.describe(e.arn), sfn.steps(e.arn, { offsets: true })]);
        const v: ExecutionView = {
          ...d,
          workflow: e.workflow,
          durationMs: d.durationMs ?? Math.max(0, t - Date.parse(d.startedAt)),
          steps,
        };
        if (d.status !== 'RUNNING') {
          finished.set(e.arn, v);
          if (finished.size > 100) finished.delete(finished.keys().next().value!);
        }
        return v;
      }),
    );
    // Oldest first, as the lab's control plane lists them.
    return { executions: out.reverse() };
  }

  async function traces() {
    const to = now();
    const summaries: { id: string; start: number }[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const r = await clients.xray.send(
        new GetTraceSummariesCommand({
          StartTime: new Date(to.getTime() - TRACE_WINDOW_MS),
          EndTime: to,
          TimeRangeType: 'TraceId',
          Sampling: false,
          ...(cfg.traceFilter ? { FilterExpression: cfg.traceFilter } : {}),
          NextToken,
        }),
      );
      for (const s of r.TraceSummaries ?? [])
        if (s.Id) summaries.push({ id: s.Id, start: s.StartTime ? new Date(s.StartTime).getTime() : 0 });
      NextToken = r.NextToken;
    } while (NextToken && ++pages < TRACE_SUMMARY_PAGES);
    const ids = [...new Set(summaries.sort((a, b) => b.start - a.start).map((s) => s.id))].slice(0, TRACES_SHOWN);
    const docs = new Map<string, SegmentDoc[]>();
    for (let i = 0; i < ids.length; i += TRACE_IDS_PER_CALL) {
      let token: string | undefined;
      do {
        const r = await clients.xray.send(
          new BatchGetTracesCommand({ TraceIds: ids.slice(i, i + TRACE_IDS_PER_CALL), NextToken: token }),
        );
        for (const tr of r.Traces ?? []) {
          if (!tr.Id) continue;
          const list = docs.get(tr.Id) ?? [];
          for (const s of tr.Segments ?? []) {
            const doc = parseSegment(s.Document);
            if (doc) list.push(doc);
          }
          docs.set(tr.Id, list);
        }
        token = r.NextToken;
      } while (token);
    }
    return {
      traces: ids.map((id) => traceView(docs.get(id) ?? [])).filter((v): v is TraceView => !!v),
      received: summaries.length,
    };
  }

  async function digest() {
    let latest: string | undefined;
    let ContinuationToken: string | undefined;
    do {
      const r = await clients.s3.send(
        new ListObjectsV2Command({ Bucket: cfg.digestBucket, Prefix: cfg.digestPrefix, ContinuationToken }),
      );
      // Keys end in the window's end as an ISO stamp (<cluster>-2026-12-03T02-15-00Z.json): the
      // greatest is the latest window.
      for (const o of r.Contents ?? []) if (o.Key?.endsWith('.json') && (!latest || o.Key > latest)) latest = o.Key;
      ContinuationToken = r.NextContinuationToken;
    } while (ContinuationToken);
    if (!latest) throw new Error(`no digest report under s3://${cfg.digestBucket}/${cfg.digestPrefix} yet`);
    const obj = await clients.s3.send(new GetObjectCommand({ Bucket: cfg.digestBucket, Key: latest }));
    const text = await obj.Body?.transformToString('utf-8');
    let report: unknown;
    try {
      report = JSON.parse(text ?? '');
    } catch (e) {
      throw new Error(`s3://${cfg.digestBucket}/${latest} is not JSON: ${(e as Error).message}`, { cause: e });
    }
    const r = report as { totals?: unknown; input?: unknown };
    if (typeof r !== 'object' || r === null || typeof r.totals !== 'object' || typeof r.input !== 'object')
      throw new Error(`s3://${cfg.digestBucket}/${latest} is not a digest report (no totals or input)`);
    return { ...r, key: latest };
  }

  const cacheMs = { ...DEFAULT_CACHE_MS, ...opts.cacheMs };
  const keep = <T>(name: keyof DashboardSource, fn: () => Promise<T>) => cached(fn, cacheMs[name], now);
  return {
    status: keep('status', status),
    metrics: keep('metrics', metrics),
    executions: keep('executions', executions),
    traces: keep('traces', traces),
    digest: keep('digest', digest),
  };
}

/** One answer shared for ttlMs (and by concurrent callers); a failure is not kept. */
function cached<T>(fn: () => Promise<T>, ttlMs: number, now: () => Date): () => Promise<T> {
  let entry: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = now().getTime();
    if (entry && t - entry.at < ttlMs) return entry.value;
    const value = fn();
    const mine = { at: t, value };
    entry = mine;
    value.catch(() => {
      if (entry === mine) entry = undefined;
    });
    return value;
  };
}

function parseSegment(doc: string | undefined): SegmentDoc | undefined {
  if (!doc) return undefined;
  try {
    const d = JSON.parse(doc) as SegmentDoc;
    return typeof d.id === 'string' && typeof d.start_time === 'number' ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The timeline of a trace read from X-Ray. In Lambda the request is a subsegment of the function's
 * segment ("GET /api/values/1", with the http block): the trace takes its method, URL and status.
 */
export function traceView(docs: SegmentDoc[]): TraceView | undefined {
  const v = timeline(docs);
  if (!v) return undefined;
  if (!v.method) {
    const stack = [...docs];
    while (stack.length) {
      const d = stack.shift()!;
      if (d.http?.request?.method) {
        v.method = d.http.request.method;
        v.url = d.http.request.url;
        v.status = d.http.response?.status ?? v.status;
        break;
      }
      stack.push(...(d.subsegments ?? []));
    }
  }
  // The page takes the path of an absolute URL; a relative one would break it.
  if (v.url && !URL.canParse(v.url))
    v.url = URL.canParse(v.url, 'http://app') ? new URL(v.url, 'http://app').href : undefined;
  return v;
}
