/**
 * `pgwarden metrics [--json]`: the current value of every metric, per node (cluster-wide series under
 * "cluster"), read from the control plane's metric store (the probe and the custom SQL metrics).
 */
import type { CurrentValue } from '../../functions/metrics/current';
import { Lab, LabError } from './lab';

export interface MetricsByNode {
  cluster: string;
  /** Node name (or "cluster") -> its series, dimensions other than Cluster and Node kept. */
  nodes: Record<
    string,
    { name: string; dimensions: Record<string, string>; value: number; unit: string; at: string }[]
  >;
}

export function byNode(cluster: string, values: CurrentValue[]): MetricsByNode {
  const nodes: MetricsByNode['nodes'] = {};
  for (const v of values) {
    const { Cluster: _c, Node: node, ...rest } = v.dimensions;
    void _c;
    const key = node ?? 'cluster';
    (nodes[key] ??= []).push({
      name: v.name,
      dimensions: rest,
      value: v.value,
      unit: v.unit,
      at: new Date(v.at).toISOString(),
    });
  }
  const sorted = Object.fromEntries(
    Object.keys(nodes)
      .sort((a, b) => (a === 'cluster' ? -1 : b === 'cluster' ? 1 : a.localeCompare(b)))
      .map((k) => [k, nodes[k]]),
  );
  return { cluster, nodes: sorted };
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

export function renderMetrics(m: MetricsByNode): string {
  const rows = [['NODE', 'METRIC', 'DIMENSIONS', 'VALUE', 'UNIT']];
  for (const [node, list] of Object.entries(m.nodes))
    for (const s of list)
      rows.push([
        node,
        s.name,
        Object.entries(s.dimensions)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        fmt(s.value),
        s.unit,
      ]);
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 3 ? c.padStart(w[i]) : c.padEnd(w[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function metricsCommand(json: boolean): Promise<number> {
  const l = new Lab();
  let r: Response;
  try {
    r = await fetch(`${l.apiUrl}/v1/metrics/current`);
  } catch {
    throw new LabError(`the lab's control plane is not reachable at ${l.apiUrl} (run: pgwarden lab up)`);
  }
  const j = (await r.json()) as { cluster: string; metrics: CurrentValue[]; error?: string };
  if (!r.ok) throw new LabError(j.error ?? r.statusText);
  const m = byNode(j.cluster, j.metrics);
  if (!j.metrics.length) {
    console.error('no metrics yet: the control plane publishes its first round a few seconds after lab up');
    return 1;
  }
  console.log(json ? JSON.stringify(m, null, 2) : renderMetrics(m));
  return 0;
}
