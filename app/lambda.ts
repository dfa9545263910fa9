/**
 * The AWS entry: the same hono app as the ALB's Lambda target. The database password (AppSecret)
 * and the Redis AUTH token come from Secrets Manager, fetched once per container; PostgreSQL through
 * pgpool's NLB (TLS when PGWARDEN_APP_DB_TLS is on) and ElastiCache over TLS. X-Ray: Lambda's active tracing (facade segment), the
 * app's request a subsegment of it.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { handle } from 'hono/aws-lambda';
import { readSecretField } from '../functions/lib/aws/secret-json';
import { tracedClient } from '../functions/lib/aws/tracing';
import { readAppConfig, type AppConfig } from './config';
import { wire } from './wiring';

type Handler = ReturnType<typeof handle>;
let ready: Promise<Handler> | undefined;
const secrets = tracedClient(new SecretsManagerClient({}));

async function databaseUrl(cfg: AppConfig): Promise<string> {
  if (cfg.databaseUrl) return cfg.databaseUrl;
  const u = new URL(`postgresql://${cfg.dbHost}:${cfg.dbPort}/${cfg.dbName}`);
  u.username = await readSecretField(secrets, cfg.dbSecretArn!, 'username');
  u.password = await readSecretField(secrets, cfg.dbSecretArn!, 'password');
  if (cfg.dbTls) u.searchParams.set('sslmode', 'require');
  return u.toString();
}

async function redisUrl(cfg: AppConfig): Promise<string | undefined> {
  if (cfg.redisUrl || !cfg.redisHost) return cfg.redisUrl;
  const token = cfg.redisAuthSecretArn ? await readSecretField(secrets, cfg.redisAuthSecretArn, 'token') : '';
  return `rediss://${token ? `:${encodeURIComponent(token)}@` : ''}${cfg.redisHost}:${cfg.redisPort}`;
}

async function build(): Promise<Handler> {
  const cfg = readAppConfig();
  const [db, redis] = await Promise.all([databaseUrl(cfg), redisUrl(cfg)]);
  return handle(wire(cfg, db, undefined, redis).app);
}

export const handler: Handler = async (event, context) => {
  ready ??= build().catch((e) => {
    ready = undefined;
    throw e;
  });
  return (await ready)(event, context);
};
