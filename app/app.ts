/**
 * The app's HTTP surface (hono), written once: app/server.ts runs it as a Node server in the lab,
 * app/lambda.ts behind the ALB in AWS. makeApp takes its dependencies, so tests and benches wire
 * their own.
 */
import { Hono, type Context } from 'hono';
import type { Cache } from './cache';
import { DatabaseUnavailable, type ValueStore } from './store';
import type { RequestTrace, Tracer } from './tracing';
import { parseId, parseNewValue } from './values';

export interface AppDeps {
  store: Pick<ValueStore, 'insert' | 'get' | 'ping'>;
  cache: Cache;
  cacheEnabled: boolean;
  tracer: Tracer;
  requestTimeoutMs: number;
  retryAfterS: number;
  /** Extra routes (the dashboard) mounted on the same app. */
  mount?: (app: Hono<Env>) => void;
}

export type Env = { Variables: { trace: RequestTrace } };

class RequestTimeout extends Error {}

export function makeApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();

  const unavailable = (c: Context<Env>, message: string) => {
    c.header('Retry-After', String(deps.retryAfterS));
    return c.json({ error: message }, 503);
  };

  // One trace per request, and a bound on every request: nothing is answered after requestTimeoutMs.
  app.use('/api/*', async (c, next) => {
    const trace = deps.tracer.begin({
      method: c.req.method,
      url: c.req.url,
      userAgent: c.req.header('user-agent'),
      traceHeader: c.req.header('x-amzn-trace-id'),
    });
    c.set('trace', trace);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RequestTimeout()), deps.requestTimeoutMs);
    });
    let error: Error | undefined;
    try {
      await Promise.race([next(), deadline]);
    } catch (e) {
      if (!(e instanceof RequestTimeout)) throw e;
      error = e;
      // A write still in flight is not reported as committed: the client retries or checks.
      c.res = unavailable(c, `no answer within ${deps.requestTimeoutMs} ms (failover?); retry`);
    } finally {
      clearTimeout(timer);
    }
    if (trace.traceId) c.header('X-Amzn-Trace-Id', `Root=${trace.traceId}`);
    trace.end(c.res.status, error);
  });

  app.post('/api/values', async (c) => {
    const parsed = parseNewValue(c.req.header('content-type'), await c.req.text());
    if (!parsed.ok) return c.json({ error: parsed.problem }, 400);
    const trace = c.get('trace');
    const row = await deps.store.insert(parsed.value, trace);
    if (deps.cacheEnabled) await deps.cache.put(row, trace);
    return c.json(row, 201);
  });

  app.get('/api/values/:id', async (c) => {
    const id = parseId(c.req.param('id'));
    if (!id.ok) return c.json({ error: id.problem }, 400);
    const trace = c.get('trace');
    if (deps.cacheEnabled) {
      const hit = await deps.cache.get(id.value, trace);
      if (hit.state === 'hit') return c.json({ ...hit.value, cached: true });
      const row = await deps.store.get(id.value, trace);
      if (!row) return c.json({ error: `no value with id ${id.value}` }, 404);
      if (hit.state === 'miss') await deps.cache.put(row, trace);
      return c.json({ ...row, cached: false });
    }
    const row = await deps.store.get(id.value, trace);
    if (!row) return c.json({ error: `no value with id ${id.value}` }, 404);
    return c.json({ ...row, cached: false });
  });

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.get('/readyz', async (c) => {
    const [database, cache] = await Promise.all([
      deps.store.ping(),
      deps.cacheEnabled ? deps.cache.ping() : Promise.resolve(true),
    ]);
    return c.json(
      { ready: database && cache, database, cache: deps.cacheEnabled ? cache : 'off' },
      database && cache ? 200 : 503,
    );
  });

  app.onError((e, c) => {
    if (e instanceof DatabaseUnavailable) return unavailable(c, e.message);
    console.error(`app: ${c.req.method} ${c.req.path}: ${e.stack ?? e.message}`);
    return c.json({ error: 'internal error' }, 500);
  });

  deps.mount?.(app);
  return app;
}
