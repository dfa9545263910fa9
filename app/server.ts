/**
 * The lab's entry: the app as a Node server on 127.0.0.1 (started by `pgwarden lab up`, see
 * infra/local/app-process.ts). SIGTERM stops accepting, lets in-flight requests finish, then closes
 * the pools.
 */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { readAppConfig } from './config';
import { controlPlaneSource } from './dashboard/routes';
import { wire } from './wiring';

export async function main(): Promise<void> {
  const cfg = readAppConfig();
  if (!cfg.databaseUrl) throw new Error('PGWARDEN_APP_DATABASE_URL is required in the lab');
  const w = wire(cfg, cfg.databaseUrl, cfg.controlPlaneUrl ? controlPlaneSource(cfg.controlPlaneUrl) : undefined);
  await w.store.ensureSchema().catch((e) => console.error(`app: schema not ready yet: ${(e as Error).message}`));
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: w.app.fetch, hostname: cfg.host, port: cfg.port }, () => resolve(s as Server));
    s.once('error', reject);
  });
  console.log(
    `app listening on http://${cfg.host}:${cfg.port} (cache ${cfg.cacheEnabled ? 'on' : 'off'}, tracing ${cfg.tracing ? 'on' : 'off'})`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('app: SIGTERM, finishing in-flight requests');
    const force = setTimeout(() => server.closeAllConnections(), cfg.shutdownGraceMs);
    // A keep-alive connection whose request just finished is idle: close it now, not at its timeout.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearTimeout(force);
      clearInterval(idle);
      w.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
