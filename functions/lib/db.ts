/**
 * Talking to PostgreSQL nodes and pgpool from a workflow step. Lambdas in the VPC and the lab's
 * control plane use the same code: only the credentials' source differs (Secrets port).
 */
import { Client } from 'pg';
import type { DbCredentials } from './ports';

export interface Endpoint {
  host: string;
  port: number;
}

/** Runs fn over a session to the endpoint: withClient (a new connection), or a warmed session (session-cache.ts). */
export type SessionRunner = <T>(
  ep: Endpoint,
  creds: DbCredentials,
  timeoutMs: number,
  fn: (c: Client) => Promise<T>,
  database?: string,
) => Promise<T>;

export async function withClient<T>(
  ep: Endpoint,
  creds: DbCredentials,
  timeoutMs: number,
  fn: (c: Client) => Promise<T>,
  database = creds.database,
): Promise<T> {
  const c = await connectClient(ep, creds, timeoutMs, database);
  try {
    return await fn(c);
  } finally {
    c.end().catch(() => undefined);
  }
}

/**
 * A connected client for callers that keep it (e.g. one session per pgpool for a whole drain); the
 * caller ends it. Connect and every query are bounded by `timeoutMs`.
 */
export async function connectClient(
  ep: Endpoint,
  creds: DbCredentials,
  timeoutMs: number,
  database = creds.database,
): Promise<Client> {
  const c = new Client({
    host: ep.host,
    port: ep.port,
    user: creds.user,
    password: creds.password,
    database,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'pgwarden',
    // With the cluster's CA (AWS: Secrets Manager; a lab with TLS: its CA file), TLS that verifies the
    // server's certificate chain and the address we connect to; without it, none.
    ssl: creds.ca ? { ca: creds.ca, rejectUnauthorized: true } : undefined,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (e) {
    c.end().catch(() => undefined);
    throw e;
  }
  return c;
}

export interface NodeProbe {
  reachable: boolean;
  error?: string;
  inRecovery?: boolean;
  /** Primary: current WAL insert LSN. */
  currentLsn?: string;
  /** Standby: last WAL received and flushed to disk (what promotion will replay up to). */
  receiveLsn?: string;
  replayLsn?: string;
  /**
   * Primary: its timeline. Standby: the newest timeline it knows (its WAL receiver's, its last
   * restartpoint's, or a timeline history file it fetched when it followed a promotion).
   */
  timeline?: number;
  walReceiver?: { status: string; sender: string | null; lastMsgAgeMs: number | null } | null;
  latencyMs: number;
}

export async function probeNode(
  ep: Endpoint,
  creds: DbCredentials,
  timeoutMs: number,
  session: SessionRunner = withClient,
): Promise<NodeProbe> {
  const t0 = Date.now();
  try {
    return await session(
      ep,
      creds,
      timeoutMs,
      async (c) => {
        const r = await c.query(
          `select pg_is_in_recovery() as rec,
                case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as cur,
                pg_last_wal_receive_lsn()::text as recv, pg_last_wal_replay_lsn()::text as replay,
                case when pg_is_in_recovery() then greatest((select received_tli from pg_stat_wal_receiver),
                       (select timeline_id from pg_control_checkpoint()),
                       (select max(('x' || substr(name, 1, 8))::bit(32)::int) from pg_ls_waldir()
                         where name ~ '^[0-9A-F]{8}[.]history$'))
                     else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as tli,
                (select json_build_object('status', status, 'sender', sender_host || ':' || sender_port,
                        'age', (extract(epoch from now() - last_msg_receipt_time) * 1000)::int)
                   from pg_stat_wal_receiver) as wr`,
        );
        const row = r.rows[0];
        return {
          reachable: true,
          inRecovery: row.rec,
          currentLsn: row.cur ?? undefined,
          receiveLsn: row.recv ?? undefined,
          replayLsn: row.replay ?? undefined,
          timeline: row.tli ?? undefined,
          walReceiver: row.wr ? { status: row.wr.status, sender: row.wr.sender, lastMsgAgeMs: row.wr.age } : null,
          latencyMs: Date.now() - t0,
        };
      },
      'postgres',
    );
  } catch (e) {
    return { reachable: false, error: (e as Error).message, latencyMs: Date.now() - t0 };
  }
}

/** A pgpool's own view of one of its backends: pgpool's status for it and the role pgpool gives it. */
export interface PoolNode {
  id: number;
  host: string;
  port: number;
  status: 'up' | 'down';
  role: string;
}

/**
 * pgpool's word for a backend's status as up or down. `up`, and `waiting` (up, no child connected to
 * it yet), route queries; `down`, `quarantine` (down until the watchdog's quorum agrees; only with a
 * watchdog) and `unused` do not, nor does a word this code does not know. The node scripts count
 * quarantine as down too (infra/node/pgpool-attach.sh, pgpool-detach.sh).
 */
export function poolStatus(word: string): 'up' | 'down' {
  return word === 'up' || word === 'waiting' ? 'up' : 'down';
}

/**
 * pgpool's view of its backends, from its shared memory (SHOW POOL_HEALTH_CHECK_STATS through its SQL
 * port). Not SHOW POOL_NODES: that one pings every backend and opens a connection to each for its
 * pg_status and pg_role columns, so one backend that drops traffic (a partitioned or frozen host)
 * held every read of the view for libpq's 2 s minimum connect timeout, in the failover's
 * ReconfigurePgpools, the prober's heal and the metrics alike, and each read cost the backends a
 * connection apiece. pgpool's status and role are what routing depends on.
 */
export async function pgpoolBackends(ep: Endpoint, creds: DbCredentials, timeoutMs: number): Promise<PoolNode[]> {
  return withClient(
    ep,
    creds,
    timeoutMs,
    async (c) => {
      const r = await c.query('SHOW POOL_HEALTH_CHECK_STATS');
      return r.rows.map((x: Record<string, string>) => ({
        id: Number(x.node_id),
        host: x.hostname,
        port: Number(x.port),
        status: poolStatus(x.status),
        role: x.role,
      }));
    },
    'postgres',
  );
}

/** A standby connected to the primary, from its pg_stat_replication; lags in bytes behind the primary's WAL. */
export interface Replica {
  /** Its application_name (the node's name). */
  name: string;
  /** 'streaming', 'catchup', ... */
  state: string;
  syncState: string;
  /** Not yet flushed by the standby (0 when it reported nothing). */
  flushLagBytes: number;
  /** Not yet replayed by the standby (the whole WAL when it replayed nothing). */
  replayLagBytes: number;
}

/** The primary's pg_stat_replication: every standby connected to it, streaming or not. */
export async function replicationOf(ep: Endpoint, creds: DbCredentials, timeoutMs: number): Promise<Replica[]> {
  return withClient(
    ep,
    creds,
    timeoutMs,
    async (c) =>
      (
        await c.query(
          `select application_name as name, state, sync_state as "syncState",
                  coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn), 0)::float8 as "flushLagBytes",
                  pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, '0/0'))::float8 as "replayLagBytes"
             from pg_stat_replication`,
        )
      ).rows as Replica[],
    'postgres',
  );
}

/** Compare two LSNs ("X/Y"): negative when a < b. */
export function compareLsn(a: string, b: string): number {
  const v = (s: string) => {
    const [hi, lo] = s.split('/');
    return BigInt(`0x${hi}`) * 4294967296n + BigInt(`0x${lo}`);
  };
  const d = v(a) - v(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export function isLsn(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(s);
}
