/** One wiring of the app from its configuration, shared by the lab server and the Lambda entry. */
import type { Hono } from 'hono';
import { makeApp, type Env } from './app';
import { NO_CACHE, RedisCache, type Cache } from './cache';
import type { AppConfig } from './config';
import { allowOnlyFrom } from './dashboard/access';
import { mountDashboard, type DashboardSource } from './dashboard/routes';
import { ValueStore, type DbTls } from './store';
import { NO_TRACING } from './tracing';
import { xrayTracer } from './xray';

export interface Wired {
  app: Hono<Env>;
  store: ValueStore;
  cache: Cache;
  close(): Promise<void>;
}

export function wire(
  cfg: AppConfig,
  databaseUrl: string,
  dashboard?: DashboardSource,
  redisUrl = cfg.redisUrl,
  dbTls?: DbTls,
): Wired {
  const store = new ValueStore({
    connectionString: databaseUrl,
    tls: dbTls,
    max: cfg.dbPoolMax,
    connectTimeoutMs: cfg.dbConnectTimeoutMs,
    queryTimeoutMs: cfg.dbQueryTimeoutMs,
  });
  const cache = cfg.cacheEnabled && redisUrl ? new RedisCache(redisUrl, cfg.cacheTtlS, cfg.redisTimeoutMs) : NO_CACHE;
  const tracer = cfg.tracing
    ? xrayTracer({ serviceName: cfg.serviceName, daemonAddress: cfg.xrayDaemonAddress, inLambda: cfg.inLambda })
    : NO_TRACING;
  const app = makeApp({
    store,
    cache,
    cacheEnabled: cfg.cacheEnabled,
    tracer,
    requestTimeoutMs: cfg.requestTimeoutMs,
    retryAfterS: cfg.retryAfterS,
    mount: dashboard
      ? (a) => mountDashboard(a, dashboard, cfg.awsDashboard ? allowOnlyFrom(cfg.awsDashboard.allowedCidr) : undefined)
      : undefined,
  });
  return {
    app,
    store,
    cache,
    async close() {
      await Promise.all([store.close(), cache.close()]);
    },
  };
}
