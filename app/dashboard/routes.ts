/**
 * The operator dashboard, served by the app: one page (index.html + client.js, charts by uPlot) and
 * a small JSON API it polls. Its data comes from a DashboardSource: the lab's control plane API
 * locally (controlPlaneSource), DynamoDB, CloudWatch, Step Functions, X-Ray and S3 in AWS
 * (aws-source.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Hono, MiddlewareHandler } from 'hono';
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

/**
 * Where the page's files are. From source (the lab, tests) beside this module and in node_modules.
 * In the Lambda the module is bundled into app/lambda.js, so __dirname is app/: serverless.yml's app
 * function packages app/dashboard/{index.html,client.js} and uPlot's two files beside the bundle.
 */
export function dashboardAssets(base = __dirname): Record<'page' | 'client' | 'uplotJs' | 'uplotCss', string> {
  const own = [base, join(base, 'dashboard')].find(
    (d) => existsSync(join(d, 'index.html')) && existsSync(join(d, 'client.js')),
  );
  const uplot =
    [join(base, '..', 'node_modules', 'uplot'), join(base, 'node_modules', 'uplot')].find((d) =>
      existsSync(join(d, 'dist', 'uPlot.iife.min.js')),
    ) ?? resolveUplot();
  if (!own)
    throw new Error(
      `the dashboard's index.html and client.js are neither in ${base} nor in ${join(base, 'dashboard')}`,
    );
  return {
    page: join(own, 'index.html'),
    client: join(own, 'client.js'),
    uplotJs: join(uplot, 'dist', 'uPlot.iife.min.js'),
    uplotCss: join(uplot, 'dist', 'uPlot.min.css'),
  };
}

function resolveUplot(): string {
  try {
    return dirname(require.resolve('uplot/package.json'));
  } catch (e) {
    throw new Error(`the dashboard needs uPlot (npm package uplot): ${(e as Error).message}`, { cause: e });
  }
}

/** Mount the page and its API; `guard`, when given, runs before every dashboard path (app/dashboard/access.ts). */
export function mountDashboard(app: Hono<Env>, source: DashboardSource, guard?: MiddlewareHandler<Env>): void {
  if (guard) {
    app.use('/dashboard', guard);
    app.use('/dashboard/*', guard);
  }
  // Read when mounted, not at load: the Lambda imports this module whether or not it serves the dashboard.
  const files = dashboardAssets();
  const page = asset(files.page);
  const client = asset(files.client);
  const uplotJs = asset(files.uplotJs);
  const uplotCss = asset(files.uplotCss);
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
