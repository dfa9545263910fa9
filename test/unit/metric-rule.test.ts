/**
 * The rule of the observability stack: every metric an alarm or the CloudWatch dashboard reads is
 * published by some code path with the same name, dimension names and unit; an alarm with a period
 * under 60 s reads only high-resolution metrics. Reads come from functions/metrics/alarms.json and the
 * dashboard alarms.js builds from it; publications from definitions.json and the MetricSpec lists
 * declared beside each publishing code path.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  CODE_PUBLISHERS,
  alarmReads,
  checkMetricRule,
  checkPublishedConsistency,
  dashboardReads,
  publishedMetrics,
} from '../../functions/metrics/catalog';
import { METRIC_NAMESPACE } from '../../functions/lib/ports';
import alarmDefs from '../../functions/metrics/alarms.json';
const { build, alarmLogicalId } = require('../../infra/aws/alarms.js') as {
  build(cluster: string, defs?: unknown): { Resources: Record<string, { Properties: Record<string, unknown> }> };
  alarmLogicalId(name: string): string;
};

const ROOT = join(__dirname, '..', '..');
type Defs = typeof alarmDefs;

function dashboardBody(defs: Defs = alarmDefs): string {
  const body = build('prod', defs).Resources.Dashboard.Properties.DashboardBody as { 'Fn::Sub': string };
  return body['Fn::Sub'];
}
const reads = (defs: Defs = alarmDefs, body = dashboardBody(defs)) => [
  ...alarmReads(defs),
  ...dashboardReads(body, defs.namespace),
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : /\.(ts|js|yml)$/.test(p) ? [p] : [];
  });
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('every alarm and chart reads a metric that is published as it reads it', () => {
  it('holds for the real alarms, dashboard, definitions and code', () => {
    const r = reads();
    // Sanity: the derivation found what it should, not an empty set that trivially passes.
    expect(r.filter((x) => x.reader.startsWith('alarm')).length).toBe(alarmDefs.alarms.length);
    expect(r.filter((x) => x.reader.startsWith('dashboard')).length).toBeGreaterThan(15);
    expect(checkMetricRule(r, publishedMetrics())).toEqual([]);
  });

  it('fails on a broken fixture: unpublished series, wrong dimensions, wrong unit, a fast alarm on a standard metric', () => {
    const broken: Defs = JSON.parse(JSON.stringify(alarmDefs));
    const lag = broken.alarms.find((a) => a.metric === 'ReplicationLagSeconds')!;
    // The per-node series exists, but in Seconds.
    (lag as { dimensions: Record<string, string> }).dimensions = { Cluster: '{cluster}', Node: 'pg2' };
    lag.unit = 'Milliseconds';
    const slow = broken.alarms.find((a) => a.metric === 'StreamingStandbys')!;
    slow.periodSeconds = 10; // the SQL collector publishes StreamingStandbys once a minute
    broken.alarms.push({ ...slow, name: 'ghost', metric: 'NoSuchMetric', periodSeconds: 60 });
    // The dashboard line of issue 12: a Cluster-only ReplicationLagBytes nothing publishes.
    const body = JSON.stringify({
      widgets: [
        {
          type: 'metric',
          properties: {
            title: 'Replication lag',
            metrics: [[broken.namespace, 'ReplicationLagBytes', 'Cluster', 'prod', { stat: 'Maximum' }]],
          },
        },
        {
          type: 'metric',
          properties: {
            title: 'Slots',
            metrics: [
              [
                {
                  expression: `SEARCH('{pgwarden,Cluster,Slot} MetricName="ReplicationSlotRetainedBytes"', 'Max', 60)`,
                },
              ],
            ],
          },
        },
      ],
    });

    const problems = checkMetricRule(reads(broken, body), publishedMetrics());

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/alarm replication-lag-high reads ReplicationLagSeconds\{Cluster,Node\} in Milliseconds/),
        expect.stringMatching(/alarm streaming-standbys-low has a 10 s period but definitions.json publishes/),
        expect.stringMatching(/alarm ghost reads NoSuchMetric\{Cluster\}, which nothing publishes/),
        expect.stringMatching(
          /dashboard "Replication lag" reads ReplicationLagBytes\{Cluster\}, which nothing publishes \(published: ReplicationLagBytes\{Cluster,Node\}\)/,
        ),
        expect.stringMatching(
          /dashboard "Slots" reads ReplicationSlotRetainedBytes\{Cluster,Slot\}, which nothing publishes/,
        ),
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('sees that the primary-unwritable alarm (10 s) reads the prober high-resolution metric', () => {
    const fast = alarmDefs.alarms.filter((a) => a.periodSeconds < 60);
    expect(fast.map((a) => a.metric)).toEqual(['PrimaryWritable']);
    const pw = publishedMetrics().filter((p) => p.name === 'PrimaryWritable');
    expect(pw).toEqual([expect.objectContaining({ highResolution: true, source: 'functions/probe/probe.ts' })]);
  });

  it('names the metric namespace in one place: alarms.json, which every consumer reads', () => {
    expect(METRIC_NAMESPACE).toBe(alarmDefs.namespace);
    // A namespace written out anywhere else in code or stack definitions (a literal beside a
    // namespace key) is a second definition.
    const literal = new RegExp(`namespace['"]?\\s*[:=]\\s*['"]${alarmDefs.namespace}['"]`, 'i');
    const files = ['functions', 'app', 'infra'].flatMap((d) =>
      sourceFiles(join(ROOT, d)).filter((f) => !f.includes('node_modules')),
    );
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((f) => literal.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
    expect(literal.test("MetricNamespace: 'pgwarden',")).toBe(true);
  });

  it('publishes each series in one unit only', () => {
    expect(checkPublishedConsistency(publishedMetrics())).toEqual([]);
    expect(
      checkPublishedConsistency([
        { name: 'X', unit: 'Count', dimensions: ['Cluster'], highResolution: false, source: 'a' },
        { name: 'X', unit: 'Bytes', dimensions: ['Cluster'], highResolution: false, source: 'b' },
      ]),
    ).toEqual(['X{Cluster}: a publishes Count, b Bytes']);
  });

  it('has every alarm on the dashboard: in the status widget and as a graph of its own', () => {
    const widgets = (
      JSON.parse(dashboardBody()) as { widgets: { type: string; properties: Record<string, unknown> }[] }
    ).widgets;
    const arn = (a: { name: string }) => `\${${alarmLogicalId(a.name)}.Arn}`;
    const status = widgets.find((w) => w.type === 'alarm')!.properties.alarms as string[];
    const graphs = widgets.flatMap(
      (w) => ((w.properties.annotations as { alarms?: string[] } | undefined)?.alarms ?? []) as string[],
    );
    for (const a of alarmDefs.alarms) {
      expect(status).toContain(arn(a));
      expect(graphs).toContain(arn(a));
    }
  });

  it('knows every code path that publishes: each file calling metrics.put builds its datums from a declared spec', () => {
    const publishers = tsFiles(join(ROOT, 'functions')).filter((f) => /\.metrics\.put\(/.test(readFileSync(f, 'utf8')));
    expect(publishers.length).toBeGreaterThanOrEqual(5);
    const registered = Object.keys(CODE_PUBLISHERS);
    for (const f of publishers) {
      const src = readFileSync(f, 'utf8');
      const rel = relative(ROOT, f);
      // collect.ts builds the definitions' datums from definitions.json; every other datum goes through datum().
      if (rel !== 'functions/metrics/collect.ts') {
        expect([rel, src.includes('datum(')]).toEqual([rel, true]);
        expect([rel, src.match(/\bname:\s*'[A-Z][A-Za-z]+'\s*,\s*value:/)]).toEqual([rel, null]);
      }
    }
    // Every declared spec list is in the catalog.
    for (const f of tsFiles(join(ROOT, 'functions'))) {
      if (/export const [A-Z_]+_METRICS\b/.test(readFileSync(f, 'utf8')))
        expect(registered).toContain(relative(ROOT, f));
    }
  });
});
