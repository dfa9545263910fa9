/** Connections to the lab's nodes and pgpools: the URL a client uses (with TLS), a client, a query. */
import { Client } from 'pg';
import type { Lab } from './lab';

/**
 * A node's address defaults to the automation role (pgwarden, database postgres); a pgpool's
 * (`pgpool` is the first) to the app's role and database, as a client's would: a pgpool holds no
 * automation or superuser password (its pool_passwd has pgpool and app only).
 */
export function connectionString(lab: Lab, target: string, user?: string, database?: string): string {
  const c = lab.config();
  const s = lab.secrets();
  const pool = target === 'pgpool' ? c.pgpools[0] : c.pgpools.find((p) => p.name === target);
  user ??= pool ? 'app' : 'pgwarden';
  database ??= pool ? 'app' : 'postgres';
  const pw = s[`PGW_PW_${user.toUpperCase()}`];
  const port = pool ? pool.port : lab.node(target).port;
  return `postgresql://${user}:${pw}@127.0.0.1:${port}/${database}${sslQuery(lab)}`;
}

/** `?sslmode=verify-full&sslrootcert=<ca>` when the lab runs with TLS (libpq and node-postgres read it). */
export function sslQuery(lab: Lab): string {
  const ca = lab.caFile;
  return ca ? `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}` : '';
}

export async function client(
  lab: Lab,
  target: string,
  opts: { user?: string; database?: string; timeoutMs?: number } = {},
): Promise<Client> {
  const c = new Client({
    connectionString: lab.connectionString(target, opts.user, opts.database),
    connectionTimeoutMillis: opts.timeoutMs ?? 3000,
    application_name: 'pgwarden-lab',
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export async function query<T = Record<string, unknown>>(
  lab: Lab,
  target: string,
  sql: string,
  params: unknown[] = [],
  timeoutMs = 3000,
  as: { user?: string; database?: string } = {},
): Promise<T[]> {
  const c = await lab.client(target, { timeoutMs, ...as });
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => undefined);
  }
}
