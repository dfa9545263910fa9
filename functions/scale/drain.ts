/**
 * Drain the leaving standby before it is detached (scale in). pgpool-II picks a session's
 * load-balance node when the client connects and keeps it until the client disconnects; detaching a
 * node cuts exactly the sessions whose load-balance node it is (their pgpool child restarts). So:
 *
 * 1. In every pgpool its backend_weight goes to 0 (pgpool-weight.sh: pgpool.conf + reload): sessions
 *    that start from then on never read from it.
 * 2. The client sessions open in that pgpool at that moment (and those that appear within the next
 *    second: clients accepted just before, still starting) are the only ones that can use it: the
 *    drain waits until each of them has ended (SHOW POOL_POOLS: a session is a pgpool child with a
 *    connected client, identified by the child's pid and its client connection count and time).
 *    Clients that open a session per request or per short unit of work, and pools that recycle idle
 *    connections, end theirs within a request or an idle timeout.
 * 3. Sessions that outlive the deadline (drainSeconds, default 60 s, at most 600 s) are not waited for: the node is
 *    detached anyway and the next step reports how many of them pgpool cut.
 *
 * The pgwarden admin user's own sessions (these very probes) are not counted.
 */
import type { Client } from 'pg';
import { connectClient } from '../lib/db';
import { lambda } from '../lib/handler';
import type { DbCredentials, Deps } from '../lib/ports';
import { nodeByName, type PgpoolSpec } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { markMaintenance } from '../lib/topology-changes';
import { holdLease, nodeAction } from '../planned/common';
import type { OpenSession, ScaleInInput } from './types';

export const DEFAULT_DRAIN_SECONDS = 60;
/** Under the step's Lambda timeout (900 s) and its ASL TimeoutSeconds. */
export const MAX_DRAIN_SECONDS = 600;
const POLL_MS = 100;
const STARTING_MS = 1_000;
/** A pgpool busy with the load it serves may take seconds to accept and authenticate a session. */
const PGPOOL_TIMEOUT_MS = 5_000;

type Row = Record<string, string>;

/** The admin session on a pgpool, like every other pgwarden check: database postgres. */
const connect = (p: PgpoolSpec, creds: DbCredentials): Promise<Client> =>
  connectClient(p, creds, PGPOOL_TIMEOUT_MS, 'postgres');

async function poolPools(c: Client): Promise<Row[]> {
  return (await c.query('SHOW POOL_POOLS')).rows as Row[];
}

/** The client sessions in SHOW POOL_POOLS rows: one per child with a connected client, admin's excluded. */
function sessionsIn(p: PgpoolSpec, rows: Row[], admin: string): OpenSession[] {
  const out = new Map<string, OpenSession>();
  for (const r of rows) {
    if (r.pool_connected !== '1' || !r.username || r.username === admin) continue;
    const s: OpenSession = {
      pgpool: p.name,
      pid: Number(r.pool_pid),
      key: `${r.pool_pid}/${r.client_connection_count}/${r.client_connection_time}`,
      user: r.username,
      database: r.database,
      since: r.client_connection_time,
    };
    out.set(s.key, s);
  }
  return [...out.values()];
}

async function once<T>(p: PgpoolSpec, creds: DbCredentials, fn: (rows: Row[]) => T): Promise<T> {
  const c = await connect(p, creds);
  try {
    return fn(await poolPools(c));
  } finally {
    c.end().catch(() => undefined);
  }
}

/** The client sessions open in a pgpool (one per child with a connected client), admin's excluded. */
export async function openSessions(p: PgpoolSpec, creds: DbCredentials): Promise<OpenSession[]> {
  return once(p, creds, (rows) => sessionsIn(p, rows, creds.user));
}

/** Every pgpool child's pid, with or without a client. */
export async function childPids(p: PgpoolSpec, creds: DbCredentials): Promise<Set<number>> {
  return once(p, creds, (rows) => new Set(rows.map((r) => Number(r.pool_pid))));
}

/** One session per pgpool, kept for the whole drain (reconnected after an error). */
class PoolViews {
  private readonly clients = new Map<string, Client>();
  constructor(private readonly creds: DbCredentials) {}

  async sessions(p: PgpoolSpec): Promise<OpenSession[] | undefined> {
    try {
      let c = this.clients.get(p.name);
      if (!c) {
        c = await connect(p, this.creds);
        this.clients.set(p.name, c);
      }
      return sessionsIn(p, await poolPools(c), this.creds.user);
    } catch {
      this.clients
        .get(p.name)
        ?.end()
        .catch(() => undefined);
      this.clients.delete(p.name);
      return undefined;
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.end().catch(() => undefined);
    this.clients.clear();
  }
}

export async function step(state: ScaleInInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-in', state.executionName);
  const node = nodeByName(t, state.precheck?.node ?? '');
  const drainMs =
    Math.min(MAX_DRAIN_SECONDS, Math.max(0, Number(state.drainSeconds ?? DEFAULT_DRAIN_SECONDS) || 0)) * 1000;
  // Marked for maintenance first: pgpool's failover hook and the alarms ignore it from now on.
  await updateTopology(deps, (cur) => markMaintenance(cur, node.name));
  const creds = await deps.secrets.pgpool();
  const now = () => deps.now().getTime();
  const t0 = now();
  // Weight 0 in every pgpool, then the sessions open there: every later session avoids the node.
  await Promise.all(
    t.pgpools.map((p) =>
      nodeAction(deps, { name: p.name, instanceId: p.instanceId }, 'pgpool-weight', {
        NODE_ID: String(node.backendId),
        WEIGHT: '0',
      }),
    ),
  );
  const views = new PoolViews(creds);
  try {
    const first = await Promise.all(t.pgpools.map((p) => views.sessions(p)));
    const silent = t.pgpools.filter((_p, i) => first[i] === undefined).map((p) => p.name);
    // Without a first view of a pgpool there is nothing to wait for: the step fails (and is retried).
    if (silent.length) throw new Error(`pgpool ${silent.join(', ')} did not answer SHOW POOL_POOLS`);
    let left = first.flatMap((x) => x ?? []);
    const atStart = left.length;
    const tracked = new Set(left.map((s) => s.key));
    const tw = now();
    while (now() - t0 < drainMs) {
      const seen = await Promise.all(t.pgpools.map((p) => views.sessions(p)));
      // A client accepted just before the weight changed may have picked the node and still be starting
      // its session (not yet shown as connected): the sessions that appear shortly after are waited for too.
      if (now() - tw < STARTING_MS)
        for (const v of seen)
          for (const s of v ?? [])
            if (!tracked.has(s.key)) {
              tracked.add(s.key);
              left.push(s);
            }
      left = left.filter((s) => {
        const view = seen[t.pgpools.findIndex((p) => p.name === s.pgpool)];
        // A pgpool that did not answer this time keeps its sessions counted as open.
        return view === undefined || view.some((x) => x.key === s.key);
      });
      if (!left.length && now() - tw >= STARTING_MS) break;
      await deps.sleep(POLL_MS);
    }
    return {
      node: node.name,
      weight: 0,
      drained: left.length === 0,
      waitedMs: now() - t0,
      deadlineMs: drainMs,
      sessionsAtStart: atStart,
      sessionsWaitedFor: tracked.size,
      /** Open past the deadline: those whose load-balance node is the leaving standby are cut at detach. */
      sessionsLeft: left,
    };
  } finally {
    views.close();
  }
}

export const handler = lambda(step);
