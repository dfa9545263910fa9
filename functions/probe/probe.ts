/**
 * The prober: one round of probes of every node, published as metrics (what the primary-unwritable
 * alarm watches), and the bookkeeping that lets the election prove zero loss when a standby is gone:
 * the primary's LSN at the first probe that saw that standby not streaming.
 */
import { probeNode, replicationOf, type NodeProbe } from '../lib/db';
import { METRIC_NAMESPACE, type Deps, type MetricDatum } from '../lib/ports';
import { datum, type MetricSpec } from '../lib/metric-spec';
import { settings } from '../lib/settings';
import { updateTopology } from '../lib/topology-update';
import { syncDegraded } from '../lib/topology';

// The prober runs every 2 s within each invocation: its metrics are high resolution, which the
// primary-unwritable alarm (10 s period) needs.
const probeMetric = (name: string, unit: MetricSpec['unit'], dimensions = ['Cluster']): MetricSpec => ({
  name,
  unit,
  dimensions,
  highResolution: true,
});
export const PROBE_METRICS = {
  PrimaryWritable: probeMetric('PrimaryWritable', 'Count'),
  StreamingStandbys: probeMetric('StreamingStandbys', 'Count'),
  Timeline: probeMetric('Timeline', 'None'),
  SyncDegraded: probeMetric('SyncDegraded', 'Count'),
  NodeUp: probeMetric('NodeUp', 'Count', ['Cluster', 'Node']),
  ReplicationLagBytes: probeMetric('ReplicationLagBytes', 'Bytes', ['Cluster', 'Node']),
  ReplicationLagBytesMax: probeMetric('ReplicationLagBytesMax', 'Bytes'),
  PrimaryProbeLatency: probeMetric('PrimaryProbeLatency', 'Milliseconds'),
} satisfies Record<string, MetricSpec>;

export interface ProbeRound {
  at: string;
  primary: string;
  primaryWritable: boolean;
  nodes: Record<string, NodeProbe>;
  streaming: string[];
}

const isWritable = (p: NodeProbe) => p.reachable && p.inRecovery === false;

export async function probeCluster(deps: Deps): Promise<ProbeRound> {
  const t = await deps.topology.get(deps.cluster);
  const creds = await deps.secrets.admin();
  const s = settings();
  const live = t.nodes.filter((n) => n.role !== 'removed');
  const probing = live.map(async (n) => [n.name, await probeNode(n, creds, s.probeTimeoutMs)] as const);
  const dims = { Cluster: deps.cluster };
  // A primary found unwritable is published at once: the alarm's datapoint does not wait for the
  // other nodes' probes (a standby's TLS connect under load takes hundreds of ms).
  const primaryProbe = probing[live.findIndex((n) => n.name === t.primary)];
  const early = primaryProbe && !isWritable((await primaryProbe)[1]);
  if (early) await deps.metrics.put(METRIC_NAMESPACE, [datum(PROBE_METRICS.PrimaryWritable, 0, dims)]);
  const probes = Object.fromEntries(await Promise.all(probing));
  const p = probes[t.primary];
  const primaryWritable = !!p && isWritable(p);
  let streaming: { name: string; lag: number }[] = [];
  if (primaryWritable) {
    const primary = t.nodes.find((n) => n.name === t.primary)!;
    streaming = (await replicationOf(primary, creds, s.probeTimeoutMs).catch(() => []))
      .filter((r) => r.state === 'streaming')
      .map((r) => ({ name: r.name, lag: r.flushLagBytes }));
  }
  const m = PROBE_METRICS;
  const data: MetricDatum[] = [
    ...(early ? [] : [datum(m.PrimaryWritable, primaryWritable ? 1 : 0, dims)]),
    datum(m.StreamingStandbys, streaming.length, dims),
    datum(m.Timeline, t.timeline, dims),
    // 1 while the synchronous replication in force is weaker than configured (topology.sync).
    datum(m.SyncDegraded, syncDegraded(t) ? 1 : 0, dims),
    ...live.map((n) => datum(m.NodeUp, probes[n.name].reachable ? 1 : 0, { ...dims, Node: n.name })),
    ...streaming.map((r) => datum(m.ReplicationLagBytes, r.lag, { ...dims, Node: r.name })),
  ];
  if (primaryWritable) {
    data.push(datum(m.ReplicationLagBytesMax, Math.max(0, ...streaming.map((r) => r.lag)), dims));
    if (p.latencyMs !== undefined) data.push(datum(m.PrimaryProbeLatency, p.latencyMs, dims));
  }
  await deps.metrics.put(METRIC_NAMESPACE, data);

  if (primaryWritable && p.currentLsn) {
    const names = new Set(streaming.map((r) => r.name));
    const lsn = p.currentLsn;
    await updateTopology(deps, (cur) => {
      if (cur.primary !== t.primary) return undefined;
      const absent = { ...(cur.absentSince ?? {}) };
      let changed = false;
      for (const n of cur.nodes) {
        if (n.name === cur.primary) continue;
        const isStandby = n.role === 'standby';
        if (isStandby && names.has(n.name) && absent[n.name]) {
          delete absent[n.name];
          changed = true;
        } else if (isStandby && !names.has(n.name) && !absent[n.name]) {
          absent[n.name] = { lsn, at: deps.now().toISOString() };
          changed = true;
        }
      }
      return changed ? { ...cur, absentSince: absent } : undefined;
    });
  }
  return {
    at: deps.now().toISOString(),
    primary: t.primary,
    primaryWritable,
    nodes: probes,
    streaming: streaming.map((r) => r.name),
  };
}
