/**
 * docs/grafana: dashboards importable as they are (a data-source variable, no import-time inputs),
 * structurally valid, and whose queries name only metrics pgwarden publishes, with labels or
 * dimensions those metrics have.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMetricRule, publishedMetrics, type ReadMetric } from '../../functions/metrics/catalog';
import { prometheusName, snakeCase } from '../../functions/metrics/current';
import { METRIC_NAMESPACE } from '../../functions/lib/ports';

type Json = Record<string, unknown>;
const DIR = join(__dirname, '..', '..', 'docs', 'grafana');
const load = (f: string) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Json;
const published = publishedMetrics();

/** Prometheus name -> the labels its series carry (the Cluster-only aggregate is not exported beside per-node series). */
const promLabels = new Map<string, Set<string>>();
for (const p of published) {
  const labels = promLabels.get(prometheusName(p.name)) ?? new Set<string>();
  for (const d of p.dimensions) labels.add(snakeCase(d));
  promLabels.set(prometheusName(p.name), labels);
}

// Grafana's own: the data-source variable, CloudWatch's label function ${PROP('Dim.Node')}, range variables.
const BUILT_INS = new Set(['datasource', 'PROP', '__interval', '__rate_interval', '__range']);

/** Structural problems of a Grafana dashboard model, one sentence each. */
function structureProblems(d: Json, plugin: string): string[] {
  const out: string[] = [];
  if (typeof d.title !== 'string' || !d.title) out.push('no title');
  if (typeof d.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(d.uid)) out.push('uid must be 1-40 of [A-Za-z0-9_-]');
  if (typeof d.schemaVersion !== 'number' || d.schemaVersion < 30) out.push('schemaVersion must be a number >= 30');
  if ('__inputs' in d || JSON.stringify(d).includes('${DS_')) out.push('needs import-time inputs');
  const vars = ((d.templating as { list?: Json[] })?.list ?? []) as Json[];
  const ds = vars.find((v) => v.name === 'datasource');
  if (!ds || ds.type !== 'datasource' || ds.query !== plugin) out.push(`no datasource variable of type ${plugin}`);
  const defined = new Set(vars.map((v) => v.name as string));
  const panels = d.panels as Json[];
  if (!Array.isArray(panels) || !panels.length) return [...out, 'no panels'];
  const ids = new Set<unknown>();
  for (const p of panels) {
    const who = `panel ${String(p.id)} "${String(p.title)}"`;
    if (typeof p.id !== 'number' || ids.has(p.id)) out.push(`${who}: id missing or not unique`);
    ids.add(p.id);
    if (typeof p.type !== 'string') out.push(`${who}: no type`);
    const g = p.gridPos as { x: number; y: number; w: number; h: number };
    if (!g || ![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1)
      out.push(`${who}: gridPos outside the 24 columns`);
    const targets = p.targets as Json[];
    if (!Array.isArray(targets) || !targets.length) out.push(`${who}: no targets`);
    const refIds = new Set<unknown>();
    for (const t of [p, ...(targets ?? [])]) {
      const src = t.datasource as { type?: string; uid?: string } | undefined;
      if (src?.type !== plugin || src.uid !== '${datasource}') out.push(`${who}: data source is not $datasource`);
    }
    for (const t of targets ?? []) {
      if (typeof t.refId !== 'string' || refIds.has(t.refId)) out.push(`${who}: refId missing or not unique`);
      refIds.add(t.refId);
      for (const m of JSON.stringify(t).matchAll(/\$\{?([a-z_][a-z0-9_]*)/gi))
        if (!BUILT_INS.has(m[1]) && !defined.has(m[1])) out.push(`${who}: variable $${m[1]} is not defined`);
    }
  }
  return out;
}

/** Metric names and labels a PromQL query or legend names that no exported series has. */
function promQueryProblems(d: Json): string[] {
  const out: string[] = [];
  for (const p of d.panels as Json[])
    for (const t of p.targets as { expr: string; legendFormat?: string }[]) {
      const names = [...t.expr.matchAll(/\b(pgwarden_[a-z0-9_]+)(\{([^}]*)\})?/g)];
      if (!names.length) out.push(`panel "${String(p.title)}": query names no pgwarden metric: ${t.expr}`);
      const labels = new Set<string>();
      for (const [, name, , sel] of names) {
        const have = promLabels.get(name);
        if (!have) {
          out.push(`panel "${String(p.title)}": ${name} is not exported`);
          continue;
        }
        have.forEach((l) => labels.add(l));
        for (const m of (sel ?? '').matchAll(/([a-z_]+)\s*[=!~]+/g))
          if (!have.has(m[1])) out.push(`panel "${String(p.title)}": ${name} has no label ${m[1]}`);
      }
      for (const m of (t.legendFormat ?? '').matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g))
        if (!labels.has(m[1])) out.push(`panel "${String(p.title)}": legend uses label ${m[1]} the query lacks`);
    }
  return out;
}

/** The CloudWatch reads of a dashboard, checked by the same rule as the alarms and the AWS dashboard. */
function cloudWatchReads(d: Json): ReadMetric[] {
  return (d.panels as Json[]).flatMap((p) =>
    (p.targets as { namespace: string; metricName: string; dimensions: Record<string, string> }[]).map((t) => {
      // The dashboard file has to spell the namespace: it must be the one of alarms.json.
      expect(t.namespace).toBe(METRIC_NAMESPACE);
      return {
        name: t.metricName,
        dimensions: Object.keys(t.dimensions).sort(),
        reader: `grafana "${String(p.title)}"`,
      };
    }),
  );
}

describe('Grafana dashboards in docs/grafana', () => {
  const prom = load('pgwarden-prometheus.json');
  const cw = load('pgwarden-cloudwatch.json');

  it('are valid dashboards, importable as they are', () => {
    expect(structureProblems(prom, 'prometheus')).toEqual([]);
    expect(structureProblems(cw, 'cloudwatch')).toEqual([]);
    expect(prom.uid).not.toBe(cw.uid);
  });

  it('query, on the Prometheus endpoint, only metrics and labels the control plane exports', () => {
    expect(promQueryProblems(prom)).toEqual([]);
    expect((prom.panels as Json[]).length).toBeGreaterThan(15);
  });

  it('read, on CloudWatch, only series published with those dimensions', () => {
    const reads = cloudWatchReads(cw);
    expect(reads.length).toBeGreaterThan(20);
    expect(checkMetricRule(reads, published)).toEqual([]);
  });

  it('catch a broken dashboard: unknown metric, missing label, bad layout, undefined variable, wrong dimensions', () => {
    const badProm = JSON.parse(JSON.stringify(prom)) as Json;
    const [p1, p2] = badProm.panels as Json[];
    (p1.targets as Json[])[0].expr = 'pgwarden_no_such_metric{cluster="$cluster"}';
    (p2.targets as Json[])[0].expr = 'pgwarden_node_up{cluster="$cluster", database="x"}';
    (p2.targets as Json[])[0].legendFormat = '{{slot}} $region';
    (p2.gridPos as Json).x = 20;
    expect(promQueryProblems(badProm)).toEqual([
      'panel "Primary writable": pgwarden_no_such_metric is not exported',
      'panel "Nodes up": pgwarden_node_up has no label database',
      'panel "Nodes up": legend uses label slot the query lacks',
    ]);
    expect(structureProblems(badProm, 'prometheus')).toEqual([
      'panel 2 "Nodes up": gridPos outside the 24 columns',
      'panel 2 "Nodes up": variable $region is not defined',
    ]);
    expect(structureProblems(badProm, 'cloudwatch')).toContain('no datasource variable of type cloudwatch');

    const badCw = JSON.parse(JSON.stringify(cw)) as Json;
    const t = (
      (badCw.panels as Json[]).find((p) => p.title === 'Replication lag per standby (bytes)')!.targets as Json[]
    )[0];
    t.dimensions = { Cluster: '$cluster' };
    expect(checkMetricRule(cloudWatchReads(badCw), published)).toEqual([
      expect.stringMatching(
        /grafana "Replication lag per standby \(bytes\)" reads ReplicationLagBytes\{Cluster\}, which nothing publishes/,
      ),
    ]);
  });
});
