/**
 * Every metric pgwarden publishes and every metric its alarms and dashboard read, and the rule that
 * ties them: whatever is read is published with the same name, dimension names and unit, and an alarm
 * whose period is under 60 s reads a high-resolution (StorageResolution 1) metric only. Published
 * metrics come from definitions.json and from the MetricSpec lists declared beside the code that
 * publishes (probe, failover, planned workflows, digest, the collector itself, the rehearsal).
 */
import { DIGEST_METRICS } from '../logdigest/handler';
import { FAILOVER_METRICS } from '../failover/record';
import type { MetricSpec } from '../lib/metric-spec';
import { PROBE_METRICS } from '../probe/probe';
import { REHEARSAL_METRICS } from '../rehearsal/rehearse';
import { WORKFLOW_METRICS } from '../planned/record';
import { COLLECT_METRICS } from './collect';
import { loadDefinitions, type MetricDefinition } from './definitions';

export interface PublishedMetric {
  name: string;
  unit: string;
  /** Dimension names, sorted. */
  dimensions: string[];
  highResolution: boolean;
  /** Who publishes it (a file, or definitions.json). */
  source: string;
}

/** Code paths that publish metrics, by file: a file that calls metrics.put must be listed here. */
export const CODE_PUBLISHERS: Record<string, Record<string, MetricSpec>> = {
  'functions/probe/probe.ts': PROBE_METRICS,
  'functions/failover/record.ts': FAILOVER_METRICS,
  'functions/planned/record.ts': WORKFLOW_METRICS,
  'functions/logdigest/handler.ts': DIGEST_METRICS,
  'functions/metrics/collect.ts': COLLECT_METRICS,
  'functions/rehearsal/rehearse.ts': REHEARSAL_METRICS,
};

/** The series a definition publishes: per row (with Cluster, and Node unless on=primary), and the Cluster-wide maximum. */
export function definitionSeries(d: MetricDefinition): PublishedMetric[] {
  const base = d.on === 'primary' ? ['Cluster'] : ['Cluster', 'Node'];
  const dims = [...new Set([...base, ...(d.dimensions ?? [])])].sort();
  const out = [{ name: d.name, unit: d.unit, dimensions: dims, highResolution: false, source: 'definitions.json' }];
  if (d.max && dims.join() !== 'Cluster')
    out.push({
      name: d.name,
      unit: d.unit,
      dimensions: ['Cluster'],
      highResolution: false,
      source: 'definitions.json',
    });
  return out;
}

export function publishedMetrics(defs: MetricDefinition[] = loadDefinitions()): PublishedMetric[] {
  const fromCode = Object.entries(CODE_PUBLISHERS).flatMap(([source, specs]) =>
    Object.values(specs).map((s) => ({
      name: s.name,
      unit: s.unit,
      dimensions: [...s.dimensions].sort(),
      highResolution: !!s.highResolution,
      source,
    })),
  );
  return [...defs.flatMap(definitionSeries), ...fromCode];
}

export interface ReadMetric {
  name: string;
  dimensions: string[];
  /** The unit an alarm names (dashboards name none). */
  unit?: string;
  periodSeconds?: number;
  /** Who reads it: "alarm <name>" or "dashboard <widget title>". */
  reader: string;
}

interface AlarmDefs {
  namespace: string;
  alarms: {
    name: string;
    metric: string;
    unit?: string;
    dimensions?: Record<string, string>;
    periodSeconds: number;
  }[];
}

export function alarmReads(defs: AlarmDefs): ReadMetric[] {
  return defs.alarms.map((a) => ({
    name: a.metric,
    dimensions: Object.keys(a.dimensions ?? {}).sort(),
    unit: a.unit,
    periodSeconds: a.periodSeconds,
    reader: `alarm ${a.name}`,
  }));
}

/**
 * The metrics a CloudWatch dashboard body reads: metric arrays ([namespace, name, dim, value, ...,
 * {options}]) and SEARCH expressions ({namespace,Dim1,Dim2} MetricName="X"), whose dimension schema
 * matches exactly the series with those dimension names.
 */
export function dashboardReads(body: string, namespace: string): ReadMetric[] {
  const out: ReadMetric[] = [];
  const widgets = (JSON.parse(body) as { widgets: { type: string; properties: Record<string, unknown> }[] }).widgets;
  for (const w of widgets) {
    const metrics = (w.properties.metrics ?? []) as unknown[][];
    const reader = `dashboard "${String(w.properties.title ?? w.type)}"`;
    for (const m of metrics) {
      const expression = (m.find((x) => typeof x === 'object' && x && 'expression' in x) as { expression?: string })
        ?.expression;
      if (expression) {
        for (const s of expression.matchAll(/SEARCH\(\s*'\{([^}]*)\}\s+MetricName="([^"]+)"/g)) {
          const [ns, ...dims] = s[1].split(',').map((x) => x.trim());
          if (ns !== namespace) throw new Error(`${reader}: SEARCH in namespace ${ns}, not ${namespace}`);
          out.push({ name: s[2], dimensions: dims.sort(), reader });
        }
        if (/SEARCH\(/.test(expression) && !/SEARCH\(\s*'\{/.test(expression))
          throw new Error(`${reader}: SEARCH without a {namespace,dimensions} schema: ${expression}`);
        continue;
      }
      const parts = m.filter((x) => typeof x === 'string') as string[];
      if (parts[0] !== namespace) throw new Error(`${reader}: metric in namespace ${parts[0]}, not ${namespace}`);
      const dims: string[] = [];
      for (let i = 2; i < parts.length; i += 2) dims.push(parts[i]);
      out.push({ name: parts[1], dimensions: dims.sort(), reader });
    }
  }
  return out;
}

const show = (name: string, dims: string[]) => `${name}{${dims.join(',')}}`;

/** Every breach of the rule, one sentence each; empty when every read metric is published as read. */
export function checkMetricRule(reads: ReadMetric[], published: PublishedMetric[]): string[] {
  const problems: string[] = [];
  for (const r of reads) {
    const same = published.filter((p) => p.name === r.name && p.dimensions.join() === r.dimensions.join());
    if (!same.length) {
      const other = published.filter((p) => p.name === r.name).map((p) => show(p.name, p.dimensions));
      problems.push(
        `${r.reader} reads ${show(r.name, r.dimensions)}, which nothing publishes` +
          (other.length ? ` (published: ${[...new Set(other)].join(', ')})` : ''),
      );
      continue;
    }
    for (const p of same)
      if (r.unit !== undefined && p.unit !== r.unit)
        problems.push(`${r.reader} reads ${show(r.name, r.dimensions)} in ${r.unit}; ${p.source} publishes ${p.unit}`);
    if (r.periodSeconds !== undefined && r.periodSeconds < 60)
      for (const p of same)
        if (!p.highResolution)
          problems.push(
            `${r.reader} has a ${r.periodSeconds} s period but ${p.source} publishes ${show(r.name, r.dimensions)} without StorageResolution 1`,
          );
  }
  return problems;
}

/** Published series that disagree with each other (same name and dimensions, different units). */
export function checkPublishedConsistency(published: PublishedMetric[]): string[] {
  const byKey = new Map<string, PublishedMetric>();
  const problems: string[] = [];
  for (const p of published) {
    const k = show(p.name, p.dimensions);
    const seen = byKey.get(k);
    if (seen && seen.unit !== p.unit)
      problems.push(`${k}: ${seen.source} publishes ${seen.unit}, ${p.source} ${p.unit}`);
    byKey.set(k, seen ?? p);
  }
  return problems;
}
