/**
 * The values table through pgpool, failover-aware. Short timeouts everywhere; a read (idempotent) is
 * retried once on a connection error; a write that fails is never reported as committed: it raises
 * DatabaseUnavailable (503 + Retry-After) unless the failure is the app's own bug.
 */
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import type { RequestTrace, SqlInfo } from './tracing';
import type { StoredValue } from './values';

/** The table TransactionsLast10Min counts (functions/metrics/definitions.json). */
export const TABLE = 'app_values';

const SCHEMA_SQL = `create table if not exists ${TABLE} (id bigserial primary key, value text not null, created_at timestamptz not null default now())`;
const INSERT_SQL = `insert into ${TABLE} (value) values ($1) returning id`;
const READ_BACK_SQL = `select id, value, created_at from ${TABLE} where id = $1`;
// pgpool sends a statement starting with this comment to the primary: a read that found nothing on
// a standby asks the primary before answering 404 (read-your-writes).
const READ_PRIMARY_SQL = `/*NO LOAD BALANCE*/ ${READ_BACK_SQL}`;

export class DatabaseUnavailable extends Error {
  constructor(
    msg: string,
    /** True when the commit was sent and its answer lost: the row may or may not exist. */
    readonly outcomeUnknown = false,
  ) {
    super(msg);
    this.name = 'DatabaseUnavailable';
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
// admin/crash shutdown, cannot connect now, read-only transaction (a standby not yet promoted),
// too many connections, serialization failure, and pgpool's internal errors during failover.
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '25006', '53300', '40001', 'XX000']);

/** An error that a failover or a lost connection explains (as opposed to a bug in a statement). */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (err?.code && (CONNECTION_CODES.has(err.code) || err.code.startsWith('08') || TRANSIENT_SQLSTATES.has(err.code)))
    return true;
  return /connection|terminated|timeout|timed out|not queryable|server closed|failover|pgpool|unable to read/i.test(
    err?.message ?? '',
  );
}

/** TLS with verification: the CA certificate (PEM) the server's certificate must chain to, and its name checked. */
export interface DbTls {
  ca: string;
  rejectUnauthorized: true;
}

export interface StoreOptions {
  connectionString: string;
  /** Verified TLS given as data (AWS: the CA from Secrets Manager); the lab's URL names a CA file instead. */
  tls?: DbTls;
  max: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

export class ValueStore {
  readonly pool: Pool;
  private readonly sqlBase: Omit<SqlInfo, 'query'>;
  private schema?: Promise<void>;

  constructor(opts: StoreOptions) {
    const cfg: PoolConfig = {
      connectionString: opts.connectionString,
      ...(opts.tls ? { ssl: opts.tls } : {}),
      max: opts.max,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      query_timeout: opts.queryTimeoutMs,
      statement_timeout: opts.queryTimeoutMs,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
      application_name: 'pgwarden-app',
    };
    this.pool = new Pool(cfg);
    // An idle connection that pgpool ends (a failover restarts its children) is dropped by the pool.
    this.pool.on('error', () => undefined);
    // A checked-out connection that pgpool ends between two statements emits 'error' on the client
    // itself; unheard, that would end the process. The statement in flight reports it instead.
    this.pool.on('connect', (c) => c.on('error', () => undefined));
    const u = new URL(opts.connectionString);
    this.sqlBase = {
      url: `postgresql://${u.hostname}:${u.port || 5432}${u.pathname}`,
      user: decodeURIComponent(u.username),
      database: u.pathname.slice(1),
    };
  }

  private sql(query: string): SqlInfo {
    return { ...this.sqlBase, query };
  }

  /** Create the table once per process (the lab and a fresh AWS stack start without it). */
  ensureSchema(): Promise<void> {
    this.schema ??= this.pool.query(SCHEMA_SQL).then(
      () => undefined,
      (e) => {
        this.schema = undefined;
        throw e;
      },
    );
    return this.schema;
  }

  /** Insert, read the row back and commit, in one transaction on the primary. */
  async insert(value: string, trace: RequestTrace): Promise<StoredValue> {
    await this.ensureSchemaOr503();
    // Nothing was sent yet when BEGIN fails on a connection pgpool just ended: one retry is safe.
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient | undefined;
      let stage: 'connect' | 'begin' | 'write' | 'commit' = 'connect';
      try {
        client = await trace.sub('postgresql connect', 'postgresql', () => this.pool.connect(), this.sql('connect'));
        stage = 'begin';
        await trace.sub('postgresql', 'postgresql', () => client!.query('begin'), this.sql('begin'));
        stage = 'write';
        const ins = await trace.sub(
          'postgresql',
          'postgresql',
          () => client!.query(INSERT_SQL, [value]),
          this.sql(INSERT_SQL),
        );
        const back = await trace.sub(
          'postgresql',
          'postgresql',
          () => client!.query(READ_BACK_SQL, [ins.rows[0].id]),
          this.sql(READ_BACK_SQL),
        );
        stage = 'commit';
        await trace.sub('postgresql', 'postgresql', () => client!.query('commit'), this.sql('commit'));
        client.release();
        return toValue(back.rows[0]);
      } catch (e) {
        // A connection that saw an error may be half-way through a transaction: never reuse it.
        client?.release(e as Error);
        if (!isConnectionError(e)) throw e;
        if ((stage === 'connect' || stage === 'begin') && attempt === 1) continue;
        throw new DatabaseUnavailable(
          stage === 'commit'
            ? `the database connection was lost while committing (failover?): the write may or may not have been applied`
            : `the database is unavailable (failover?): nothing was written (${(e as Error).message})`,
          stage === 'commit',
        );
      }
    }
  }

  /** The row with this id, or undefined. Retried once on a connection error (a read is idempotent). */
  async get(id: number, trace: RequestTrace): Promise<StoredValue | undefined> {
    await this.ensureSchemaOr503();
    const once = async (sql: string) => {
      try {
        return await trace.sub('postgresql', 'postgresql', () => this.pool.query(sql, [id]), this.sql(sql));
      } catch (e) {
        if (!isConnectionError(e)) throw e;
        try {
          return await trace.sub('postgresql', 'postgresql', () => this.pool.query(sql, [id]), this.sql(sql), {
            retry: true,
          });
        } catch (e2) {
          if (!isConnectionError(e2)) throw e2;
          throw new DatabaseUnavailable(`the database is unavailable (failover?): ${(e2 as Error).message}`);
        }
      }
    };
    const r = await once(READ_BACK_SQL);
    if (r.rows[0]) return toValue(r.rows[0]);
    // A standby may not have replayed a commit yet: only the primary can say "not found".
    const p = await once(READ_PRIMARY_SQL);
    return p.rows[0] ? toValue(p.rows[0]) : undefined;
  }

  async count(): Promise<number> {
    const r = await this.pool.query(`/*NO LOAD BALANCE*/ select count(*)::int as n from ${TABLE}`);
    return r.rows[0].n as number;
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('select 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private async ensureSchemaOr503(): Promise<void> {
    try {
      await this.ensureSchema();
    } catch (e) {
      if (isConnectionError(e)) throw new DatabaseUnavailable(`the database is unavailable: ${(e as Error).message}`);
      throw e;
    }
  }
}

function toValue(r: { id: string | number; value: string; created_at: Date }): StoredValue {
  return { id: Number(r.id), value: r.value, committedAt: r.created_at.toISOString() };
}
