/**
 * The operator dashboard, served by the app: one page (index.html + client.js, charts by uPlot) and
 * a small JSON API it polls. Its data comes from a DashboardSource: the lab's control plane API
 * locally. (In AWS the same source would read the topology parameter, CloudWatch GetMetricData and
 * Step Functions; not wired yet, so the Lambda serves no dashboard.)
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Hono } from 'hono';
import type { Env } from '../app';

export interface DashboardSource {
  /** Cluster status: nodes with roles, timeline, lag; every pgpool's view. */
  status(): Promise<unknown>;
  /** Metric series {name, dimensions, samples: [{t, v}]}. */
  metrics(): Promise<unknown>;
  /** Recent workflow executions with their steps' durations. */
  executions(): Promise<unknown>;
  /** Recent traces (segments grouped by trace). */
  traces(): Promise<unknown>;
  /** The latest log digest (functions/logdigest's report over the last 24 hours). */
  digest(): Promise<unknown>;
}

async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

/** The lab: everything comes from the control plane's HTTP API. */
export function controlPlaneSource(base: string): DashboardSource {
  return {
    status: () => getJson(`${base}/v1/status`),
    metrics: () => getJson(`${base}/v1/metrics`),
    executions: () => getJson(`${base}/v1/executions`),
    traces: () => getJson(`${base}/v1/traces?limit=20`),
    digest: () => getJson(`${base}/v1/digest`),
  };
}

const asset = (f: string) => readFileSync(f, 'utf8');

export function mountDashboard(app: Hono<Env>, source: DashboardSource): void {
  const page = asset(join(__dirname, 'index.html'));
  const client = asset(join(__dirname, 'client.js'));
  // Resolved here, not at load: the Lambda bundle imports this module but serves no dashboard.
  const UPLOT_DIR = dirname(require.resolve('uplot/package.json'));
  const uplotJs = asset(join(UPLOT_DIR, 'dist', 'uPlot.iife.min.js'));
  const uplotCss = asset(join(UPLOT_DIR, 'dist', 'uPlot.min.css'));
  app.get('/', (c) => c.redirect('/dashboard'));
  app.get('/dashboard', (c) => c.html(page));
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/dashboard/client.js', (c) => c.body(client, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/dashboard/uPlot.js', (c) => c.body(uplotJs, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/dashboard/uPlot.css', (c) => c.body(uplotCss, 200, { 'content-type': 'text/css; charset=utf-8' }));
  const api = (name: keyof DashboardSource) =>
    app.get(`/dashboard/api/${name}`, async (c) => {
      try {
        return c.json(await source[name]());
      } catch (e) {
        return c.json({ error: `${name} unavailable: ${(e as Error).message}` }, 502);
      }
    });
  api('status');
  api('metrics');
  api('executions');
  api('traces');
  api('digest');
}
