import { EnvError, parseStateMachineArns } from '../functions/lib/env';
import { parseCidr, type Cidr } from './dashboard/access';
import type { AwsDashboardConfig } from './dashboard/aws-source';

/**
 * The app's configuration, read from the environment here and nowhere else. The same names serve the
 * lab (infra/local/app.ts sets them) and AWS (serverless.yml's function environment).
 */
export interface AppConfig {
  /** PGWARDEN_APP_HOST, default 127.0.0.1 (the lab binds loopback only). */
  host: string;
  /** PGWARDEN_APP_PORT (lab entry only). */
  port: number;
  /** PGWARDEN_APP_DATABASE_URL: postgresql://user:pw@pgpool:port/app. In AWS the password comes from PGWARDEN_APP_DB_SECRET_ARN instead. */
  databaseUrl?: string;
  /** PGWARDEN_APP_DB_SECRET_ARN (AWS): Secrets Manager secret {username,password,dbname}. */
  dbSecretArn?: string;
  /** PGWARDEN_APP_DB_HOST / PGWARDEN_APP_DB_PORT (AWS: pgpool's NLB). */
  dbHost?: string;
  dbPort: number;
  /** PGWARDEN_APP_DB_NAME, default app (AWS; the lab's URL names its database). */
  dbName: string;
  /**
   * PGWARDEN_APP_DB_TLS: on|off; default on when PGWARDEN_APP_DB_HOST is set (AWS: pgpool admits TLS
   * sessions only), off otherwise (the lab's URL carries its own sslmode=verify-full).
   */
  dbTls: boolean;
  /** PGWARDEN_APP_DB_CA_SECRET_ARN (AWS): the cluster CA certificate {"cert"} pgpool's certificate is verified against. */
  dbCaSecretArn?: string;
  /** PGWARDEN_APP_DB_POOL_MAX, default 8: well under pgpool's num_init_children. */
  dbPoolMax: number;
  /** PGWARDEN_APP_DB_CONNECT_TIMEOUT_MS, default 1500. */
  dbConnectTimeoutMs: number;
  /** PGWARDEN_APP_DB_QUERY_TIMEOUT_MS, default 2000 (client side and statement_timeout). */
  dbQueryTimeoutMs: number;
  /** PGWARDEN_APP_REDIS_URL (redis:// or rediss://); unset means no cache. */
  redisUrl?: string;
  /** PGWARDEN_APP_REDIS_HOST / _PORT (AWS: ElastiCache's primary endpoint, TLS) with the AUTH token in PGWARDEN_APP_REDIS_AUTH_SECRET_ARN ({"token"}). */
  redisHost?: string;
  redisPort: number;
  redisAuthSecretArn?: string;
  /** PGWARDEN_APP_CACHE: on|off, default on when a Redis URL is set. */
  cacheEnabled: boolean;
  /** PGWARDEN_APP_CACHE_TTL_S, default 300. */
  cacheTtlS: number;
  /** PGWARDEN_APP_REDIS_TIMEOUT_MS, default 250: a slow or gone Redis costs a read this much at most. */
  redisTimeoutMs: number;
  /** PGWARDEN_APP_REQUEST_TIMEOUT_MS, default 4500: no request is answered later than this. */
  requestTimeoutMs: number;
  /** PGWARDEN_APP_RETRY_AFTER_S, default 2: the Retry-After of a 503 during a failover. */
  retryAfterS: number;
  /** PGWARDEN_APP_TRACING: on|off, default on when AWS_XRAY_DAEMON_ADDRESS is set or in Lambda. */
  tracing: boolean;
  /** AWS_XRAY_DAEMON_ADDRESS (host:port, or udp:host:port tcp:host:port). */
  xrayDaemonAddress?: string;
  /** PGWARDEN_APP_SERVICE_NAME, default pgwarden-app: the X-Ray segment name. */
  serviceName: string;
  /** PGWARDEN_CONTROL_PLANE_URL (lab): where the dashboard reads topology, metrics, executions, traces. */
  controlPlaneUrl?: string;
  /**
   * The operator dashboard in AWS (app/dashboard/aws-source.ts), mounted when PGWARDEN_APP_DASHBOARD_CLUSTER
   * is set; then PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE, _STATE_MACHINE_ARNS (JSON workflow -> ARN) and
   * _DIGEST_BUCKET are required; _DIGEST_PREFIX defaults to digests/<cluster>/ (functions/logdigest's
   * layout), _TRACE_FILTER to service("<this function>") in Lambda (X-Ray filter expression). It stays
   * closed (not mounted) unless _ALLOWED_CIDR names the IPv4 block whose clients may see it
   * (app/dashboard/access.ts).
   */
  awsDashboard?: AwsDashboardConfig & { allowedCidr: Cidr };
  /** PGWARDEN_APP_SHUTDOWN_GRACE_MS, default 5000: in-flight requests get this long on SIGTERM. */
  shutdownGraceMs: number;
  /** AWS_LAMBDA_FUNCTION_NAME set: running as a Lambda. */
  inLambda: boolean;
}

export class AppConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`environment variable ${variable} ${problem}`);
    this.name = 'AppConfigError';
  }
}

export function readAppConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const opt = (k: string) => {
    const v = env[k]?.trim();
    return v ? v : undefined;
  };
  const int = (k: string, dflt: number, min = 0) => {
    const v = opt(k);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new AppConfigError(k, `must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const flag = (k: string, dflt: boolean) => {
    const v = opt(k)?.toLowerCase();
    if (v === undefined) return dflt;
    if (['on', 'true', '1', 'yes'].includes(v)) return true;
    if (['off', 'false', '0', 'no'].includes(v)) return false;
    throw new AppConfigError(k, `must be on or off, got "${v}"`);
  };
  const inLambda = !!opt('AWS_LAMBDA_FUNCTION_NAME');
  const redisUrl = opt('PGWARDEN_APP_REDIS_URL');
  const redisHost = opt('PGWARDEN_APP_REDIS_HOST');
  const xrayDaemonAddress = opt('AWS_XRAY_DAEMON_ADDRESS');
  const cfg: AppConfig = {
    host: opt('PGWARDEN_APP_HOST') ?? '127.0.0.1',
    port: int('PGWARDEN_APP_PORT', 0, 0),
    databaseUrl: opt('PGWARDEN_APP_DATABASE_URL'),
    dbSecretArn: opt('PGWARDEN_APP_DB_SECRET_ARN'),
    dbHost: opt('PGWARDEN_APP_DB_HOST'),
    dbPort: int('PGWARDEN_APP_DB_PORT', 9999, 1),
    dbName: opt('PGWARDEN_APP_DB_NAME') ?? 'app',
    dbTls: flag('PGWARDEN_APP_DB_TLS', !!opt('PGWARDEN_APP_DB_HOST')),
    dbCaSecretArn: opt('PGWARDEN_APP_DB_CA_SECRET_ARN'),
    dbPoolMax: int('PGWARDEN_APP_DB_POOL_MAX', 8, 1),
    dbConnectTimeoutMs: int('PGWARDEN_APP_DB_CONNECT_TIMEOUT_MS', 1500, 100),
    dbQueryTimeoutMs: int('PGWARDEN_APP_DB_QUERY_TIMEOUT_MS', 2000, 100),
    redisUrl,
    redisHost,
    redisPort: int('PGWARDEN_APP_REDIS_PORT', 6379, 1),
    redisAuthSecretArn: opt('PGWARDEN_APP_REDIS_AUTH_SECRET_ARN'),
    cacheEnabled: flag('PGWARDEN_APP_CACHE', !!(redisUrl || redisHost)) && !!(redisUrl || redisHost),
    cacheTtlS: int('PGWARDEN_APP_CACHE_TTL_S', 300, 1),
    redisTimeoutMs: int('PGWARDEN_APP_REDIS_TIMEOUT_MS', 250, 10),
    requestTimeoutMs: int('PGWARDEN_APP_REQUEST_TIMEOUT_MS', 4500, 100),
    retryAfterS: int('PGWARDEN_APP_RETRY_AFTER_S', 2, 1),
    tracing: flag('PGWARDEN_APP_TRACING', inLambda || !!xrayDaemonAddress),
    xrayDaemonAddress,
    serviceName: opt('PGWARDEN_APP_SERVICE_NAME') ?? 'pgwarden-app',
    controlPlaneUrl: opt('PGWARDEN_CONTROL_PLANE_URL'),
    shutdownGraceMs: int('PGWARDEN_APP_SHUTDOWN_GRACE_MS', 5000, 0),
    awsDashboard: awsDashboard(opt),
    inLambda,
  };
  if (!cfg.databaseUrl && !(cfg.dbSecretArn && cfg.dbHost)) {
    throw new AppConfigError(
      'PGWARDEN_APP_DATABASE_URL',
      'is required (or PGWARDEN_APP_DB_SECRET_ARN with PGWARDEN_APP_DB_HOST)',
    );
  }
  // TLS that verifies nothing would hand the password to whoever answers on the NLB's name.
  if (!cfg.databaseUrl && cfg.dbTls && !cfg.dbCaSecretArn) {
    throw new AppConfigError(
      'PGWARDEN_APP_DB_CA_SECRET_ARN',
      'is required when PGWARDEN_APP_DB_TLS is on: without the CA the server certificate cannot be verified',
    );
  }
  return cfg;
}

function awsDashboard(opt: (k: string) => string | undefined): AppConfig['awsDashboard'] {
  const P = 'PGWARDEN_APP_DASHBOARD_';
  const names = [
    'TOPOLOGY_TABLE',
    'STATE_MACHINE_ARNS',
    'DIGEST_BUCKET',
    'DIGEST_PREFIX',
    'TRACE_FILTER',
    'ALLOWED_CIDR',
  ];
  const cluster = opt(`${P}CLUSTER`);
  if (!cluster) {
    const stray = names.find((n) => opt(P + n));
    if (stray) throw new AppConfigError(`${P}CLUSTER`, `is required when ${P}${stray} is set`);
    return undefined;
  }
  if (!/^[a-z][a-z0-9-]*$/.test(cluster))
    throw new AppConfigError(`${P}CLUSTER`, `must be a cluster name (lower case letters, digits, -), got "${cluster}"`);
  const req = (n: string) => {
    const v = opt(P + n);
    if (!v) throw new AppConfigError(P + n, `is required when ${P}CLUSTER is set (the AWS dashboard)`);
    return v;
  };
  let stateMachineArns: AwsDashboardConfig['stateMachineArns'];
  try {
    stateMachineArns = parseStateMachineArns(req('STATE_MACHINE_ARNS'), `${P}STATE_MACHINE_ARNS`);
  } catch (e) {
    if (e instanceof EnvError)
      throw new AppConfigError(e.variable, e.message.replace(/^environment variable \S+ /, ''));
    throw e;
  }
  if (!Object.keys(stateMachineArns).length)
    throw new AppConfigError(`${P}STATE_MACHINE_ARNS`, 'names no state machine');
  const fn = opt('AWS_LAMBDA_FUNCTION_NAME');
  const topologyTable = req('TOPOLOGY_TABLE');
  const digestBucket = req('DIGEST_BUCKET');
  // Closed unless a source block is given: the ALB is internet-facing and the app has no login.
  const open = opt(`${P}ALLOWED_CIDR`);
  if (!open) return undefined;
  const allowedCidr = parseCidr(open);
  if (allowedCidr instanceof Error) throw new AppConfigError(`${P}ALLOWED_CIDR`, allowedCidr.message);
  return {
    cluster,
    allowedCidr,
    topologyTable,
    stateMachineArns,
    digestBucket,
    digestPrefix: opt(`${P}DIGEST_PREFIX`) ?? `digests/${cluster}/`,
    traceFilter: opt(`${P}TRACE_FILTER`) ?? (fn ? `service("${fn}")` : undefined),
  };
}
