/**
 * The current value of every metric series, and the same in the Prometheus text format (prom-client):
 * what `pgwarden metrics` prints and what the lab's control plane serves on /metrics. Plain functions
 * over the series a metric store holds.
 */
import { Gauge, Registry } from 'prom-client';

export interface StoredSeries {
  name: string;
  dimensions: Record<string, string>;
  unit: string;
  samples: { t: number; v: number }[];
}

export interface CurrentValue {
  name: string;
  dimensions: Record<string, string>;
  unit: string;
  value: number;
  /** When the value was published (ms since the epoch). */
  at: number;
}

/** The last sample of each series published within `maxAgeMs` (older ones describe a past state). */
export function currentValues(series: Iterable<StoredSeries>, nowMs: number, maxAgeMs: number): CurrentValue[] {
  const out: CurrentValue[] = [];
  for (const s of series) {
    const last = s.samples[s.samples.length - 1];
    if (!last || nowMs - last.t > maxAgeMs) continue;
    out.push({ name: s.name, dimensions: s.dimensions, unit: s.unit, value: last.v, at: last.t });
  }
  return out.sort(
    (a, b) => a.name.localeCompare(b.name) || JSON.stringify(a.dimensions).localeCompare(JSON.stringify(b.dimensions)),
  );
}

/** ReplicationLagBytes -> replication_lag_bytes; Node -> node. */
export function snakeCase(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

export const PROMETHEUS_PREFIX = 'pgwarden_';

/** The Prometheus name of a CloudWatch metric name. */
export function prometheusName(name: string): string {
  return PROMETHEUS_PREFIX + snakeCase(name);
}

/**
 * The Prometheus exposition of the current values: one gauge per metric (snake_case, `pgwarden_`
 * prefix), each dimension a snake_case label (`cluster`, `node`, `slot`, ...). A Cluster-only series
 * that is the maximum of per-node series of the same metric is left out: Prometheus computes max()
 * itself, and a series without `node` beside the per-node ones would be counted twice by sum().
 */
export async function prometheusText(values: CurrentValue[], help: (name: string) => string | undefined) {
  const registry = new Registry();
  const byName = new Map<string, CurrentValue[]>();
  for (const v of values) byName.set(v.name, [...(byName.get(v.name) ?? []), v]);
  for (const [name, list] of byName) {
    const detailed = list.some((v) => Object.keys(v.dimensions).some((k) => k !== 'Cluster'));
    const kept = detailed ? list.filter((v) => Object.keys(v.dimensions).some((k) => k !== 'Cluster')) : list;
    const labelNames = [...new Set(kept.flatMap((v) => Object.keys(v.dimensions).map(snakeCase)))].sort();
    const gauge = new Gauge({
      name: prometheusName(name),
      help: `${help(name) ?? name} (CloudWatch ${name}, ${kept[0].unit})`,
      labelNames,
      registers: [registry],
    });
    for (const v of kept)
      gauge.set(Object.fromEntries(Object.entries(v.dimensions).map(([k, x]) => [snakeCase(k), x])), v.value);
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
