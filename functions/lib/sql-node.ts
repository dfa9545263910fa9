/**
 * Promotion and repointing over the SQL connection a step already has, instead of an SSM command:
 * the same statements as infra/node/promote.sh and follow.sh, without SSM's delivery and polling
 * (one to two seconds per command in AWS). What needs the node's files or processes (the fence marker,
 * killing processes) stays on SSM; callers fall back to SSM when SQL fails.
 */
import type { Client } from 'pg';
import { connectClient, withClient, type Endpoint, type SessionRunner } from './db';
import { pollUntil, type Clock } from './poll';
import type { DbCredentials } from './ports';

/** The replication slot of a standby (lib.sh's slot_name). */
export function slotName(node: string): string {
  return `pgw_${node.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

const DUPLICATE_OBJECT = '42710';

async function createSlot(c: Client, node: string): Promise<void> {
  try {
    await c.query('select pg_create_physical_replication_slot($1, true)', [slotName(node)]);
  } catch (e) {
    // A standby being repointed at the same time may create its own slot first.
    if ((e as { code?: string }).code !== DUPLICATE_OBJECT) throw e;
  }
}

async function inRecovery(c: Client): Promise<boolean> {
  return (await c.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0].r;
}

export interface SqlPromoteResult {
  wasStandby: boolean;
  timeline: number;
  lsn: string;
  /** The fence marker file (pgwarden.fenced) is in the data directory: only SSM can remove it. */
  fenceMarker: boolean;
}

/**
 * promote.sh over SQL: slots for the standbys that will follow, the synchronous quorum from the first
 * commit, pg_promote, then no upstream. Idempotent: a node already primary only gets its settings.
 */
export async function promoteOverSql(
  node: Endpoint,
  creds: DbCredentials,
  opts: {
    sync: string;
    slots: string[];
    connectTimeoutMs: number;
    promoteTimeoutMs: number;
    clock: Clock;
    /** A warmed session (session-cache.ts) when there is one; a new connection by default. */
    session?: SessionRunner;
  },
): Promise<SqlPromoteResult> {
  // Every statement is short (pg_promote(false) does not wait): the connect timeout bounds each one,
  // promoteTimeoutMs the wait for the end of recovery.
  const session = opts.session ?? withClient;
  return session(
    node,
    creds,
    opts.connectTimeoutMs,
    async (c) => {
      const wasStandby = await inRecovery(c);
      for (const s of opts.slots) if (s) await createSlot(c, s);
      // ALTER SYSTEM takes no bind parameters: the value is quoted by the driver.
      await c.query(`alter system set synchronous_standby_names = ${c.escapeLiteral(opts.sync)}`);
      await c.query('select pg_reload_conf()');
      if (await inRecovery(c)) await c.query('select pg_promote(false)');
      // pg_promote(true) polls every 100 ms; poll faster.
      await pollUntil(opts.clock, async () => ((await inRecovery(c)) ? undefined : true), {
        timeoutMs: opts.promoteTimeoutMs,
        intervalMs: 10,
        onTimeout: () => {
          throw new Error(`pg_promote did not complete within ${opts.promoteTimeoutMs} ms`);
        },
      });
      await c.query('alter system reset primary_conninfo');
      await c.query('alter system reset primary_slot_name');
      await c.query('select pg_reload_conf()');
      const r = await c.query<{ timeline: number; lsn: string; marker: boolean }>(
        `select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as timeline,
              pg_current_wal_lsn()::text as lsn,
              (pg_stat_file('pgwarden.fenced', true)).size is not null as marker`,
      );
      const row = r.rows[0];
      return { wasStandby, timeline: row.timeline, lsn: row.lsn, fenceMarker: row.marker };
    },
    'postgres',
  );
}

/** A libpq conninfo string with host and port replaced (added when absent); other keys kept. */
export function withUpstream(conninfo: string, host: string, port: number): string {
  const pairs: [string, string][] = [];
  for (const m of conninfo.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g)) pairs.push([m[1], m[2]]);
  if (!pairs.length) throw new Error(`primary_conninfo "${conninfo}" has no key=value pairs`);
  const set = (k: string, v: string) => {
    const i = pairs.findIndex(([x]) => x === k);
    if (i >= 0) pairs[i][1] = v;
    else pairs.unshift([k, v]);
  };
  set('port', String(port));
  set('host', host);
  return pairs.map(([k, v]) => `${k}=${v}`).join(' ');
}

/**
 * follow.sh over SQL (WAIT_SECONDS=0): a slot on the new upstream, then primary_conninfo (the node's
 * own, with the new host and port: its user, passfile and keepalives stay) and the slot through
 * ALTER SYSTEM and a reload.
 */
export async function followOverSql(
  standby: Endpoint & { name: string },
  upstream: Endpoint,
  creds: DbCredentials,
  timeoutMs: number,
): Promise<{ changed: boolean }> {
  const c = await connectClient(standby, creds, timeoutMs, 'postgres');
  try {
    if (!(await inRecovery(c))) throw new Error(`${standby.name} is not a standby`);
    const w = await c.query<{ host: string | null; port: number | null; status: string | null }>(
      'select sender_host as host, sender_port as port, status from pg_stat_wal_receiver',
    );
    const cur = w.rows[0];
    if (cur && cur.status === 'streaming' && cur.host === upstream.host && cur.port === upstream.port)
      return { changed: false };
    const ci = (await c.query<{ ci: string }>("select current_setting('primary_conninfo') as ci")).rows[0].ci;
    if (!ci) throw new Error(`${standby.name} has no primary_conninfo to repoint`);
    const up = await connectClient(upstream, creds, timeoutMs, 'postgres');
    try {
      await createSlot(up, standby.name);
    } finally {
      up.end().catch(() => undefined);
    }
    await c.query(
      `alter system set primary_conninfo = ${c.escapeLiteral(withUpstream(ci, upstream.host, upstream.port))}`,
    );
    await c.query(`alter system set primary_slot_name = ${c.escapeLiteral(slotName(standby.name))}`);
    await c.query('select pg_reload_conf()');
    return { changed: true };
  } finally {
    c.end().catch(() => undefined);
  }
}
