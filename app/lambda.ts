/**
 * The AWS entry: the same hono app as the ALB's Lambda target. The database password (AppSecret)
 * and the Redis AUTH token come from Secrets Manager, fetched once per container; PostgreSQL through
 * pgpool's NLB over TLS verified against the cluster CA (PGWARDEN_APP_DB_CA_SECRET_ARN; the certificate
 * names the NLB) and ElastiCache over TLS. X-Ray: Lambda's active tracing (facade segment), the
 * app's request a subsegment of it. The operator dashboard is mounted when its configuration is set
 * (PGWARDEN_APP_DASHBOARD_*, app/config.ts): its data from DynamoDB, CloudWatch, Step Functions,
 * X-Ray and S3 (app/dashboard/aws-source.ts).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { XRayClient } from '@aws-sdk/client-xray';
import { handle } from 'hono/aws-lambda';
import { readSecretField } from '../functions/lib/aws/secret-json';
import { tracedClient } from '../functions/lib/aws/tracing';
import { readAppConfig, type AppConfig } from './config';
import { awsDashboardSource } from './dashboard/aws-source';
import type { DashboardSource } from './dashboard/routes';
import type { DbTls } from './store';
import { wire } from './wiring';

type Handler = ReturnType<typeof handle>;
let ready: Promise<Handler> | undefined;
const secrets = tracedClient(new SecretsManagerClient({}));

/** Where and how the app reaches PostgreSQL: pgpool's NLB, the app role's password, TLS verified against the cluster CA. */
export async function databaseAccess(
  cfg: AppConfig,
  client: SecretsManagerClient = secrets,
): Promise<{ url: string; tls?: DbTls }> {
  if (cfg.databaseUrl) return { url: cfg.databaseUrl };
  const u = new URL(`postgresql://${cfg.dbHost}:${cfg.dbPort}/${cfg.dbName}`);
  const [username, password, ca] = await Promise.all([
    readSecretField(client, cfg.dbSecretArn!, 'username'),
    readSecretField(client, cfg.dbSecretArn!, 'password'),
    cfg.dbTls ? readSecretField(client, cfg.dbCaSecretArn!, 'cert') : undefined,
  ]);
  u.username = username;
  u.password = password;
  return { url: u.toString(), tls: ca ? { ca, rejectUnauthorized: true } : undefined };
}

async function redisUrl(cfg: AppConfig): Promise<string | undefined> {
  if (cfg.redisUrl || !cfg.redisHost) return cfg.redisUrl;
  const token = cfg.redisAuthSecretArn ? await readSecretField(secrets, cfg.redisAuthSecretArn, 'token') : '';
  return `rediss://${token ? `:${encodeURIComponent(token)}@` : ''}${cfg.redisHost}:${cfg.redisPort}`;
}

/** The dashboard's source in AWS, or none when its configuration is not set. */
export function awsDashboard(cfg: AppConfig): DashboardSource | undefined {
  if (!cfg.awsDashboard) return undefined;
  return awsDashboardSource(cfg.awsDashboard, {
    dynamodb: tracedClient(new DynamoDBClient({})),
    cloudwatch: tracedClient(new CloudWatchClient({})),
    sfn: tracedClient(new SFNClient({})),
    xray: new XRayClient({}), // not traced: reading traces would add to them
    s3: tracedClient(new S3Client({})),
  });
}

async function build(): Promise<Handler> {
  const cfg = readAppConfig();
  const [db, redis] = await Promise.all([databaseAccess(cfg), redisUrl(cfg)]);
  return handle(wire(cfg, db.url, awsDashboard(cfg), redis, db.tls).app);
}

export const handler: Handler = async (event, context) => {
  ready ??= build().catch((e) => {
    ready = undefined;
    throw e;
  });
  return (await ready)(event, context);
};
