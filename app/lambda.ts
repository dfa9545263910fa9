/**
 * The AWS entry: the same hono app as the ALB's Lambda target. The database password comes from
 * Secrets Manager (functions/lib/aws/secrets.ts), fetched once per container; Redis is ElastiCache
 * over TLS (rediss://); X-Ray traces come from Lambda's active tracing (facade segment).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { SecretsManagerSecrets } from '../functions/lib/aws/secrets';
import type { Env } from './app';
import { readAppConfig, type AppConfig } from './config';
import { wire } from './wiring';

let ready: Promise<ReturnType<typeof handle>> | undefined;

async function databaseUrl(cfg: AppConfig): Promise<string> {
  if (cfg.databaseUrl) return cfg.databaseUrl;
  const creds = await new SecretsManagerSecrets(new SecretsManagerClient({}), cfg.dbSecretArn!).admin();
  const u = new URL(`postgresql://${cfg.dbHost}:${cfg.dbPort}/`);
  u.username = creds.user;
  u.password = creds.password;
  u.pathname = `/${creds.database}`;
  u.searchParams.set('sslmode', 'require');
  return u.toString();
}

async function build(): Promise<ReturnType<typeof handle>> {
  const cfg = readAppConfig();
  const app: Hono<Env> = wire(cfg, await databaseUrl(cfg)).app;
  return handle(app);
}

export const handler = async (
  event: Parameters<ReturnType<typeof handle>>[0],
  context: Parameters<ReturnType<typeof handle>>[1],
) => {
  ready ??= build().catch((e) => {
    ready = undefined;
    throw e;
  });
  return (await ready)(event, context);
};
