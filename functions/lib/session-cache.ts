/**
 * SQL sessions opened by a step's warm-up invoke (failover.asl.json's FenceAndWarm) and used by the
 * step itself, so that the election and the promotion do not open their connections (TCP, TLS, SCRAM:
 * 90-290 ms each on a busy 2-vCPU VM, 43 ms idle) after the fencing, on the failover's critical path.
 *
 * Each step module holds its own cache, so that a session belongs to one function, as a module's state
 * belongs to one Lambda container in AWS: the warm-up and the step it warms run in the same container
 * when it is warm (a cold or a second container finds nothing and connects, as before). In the lab's
 * control plane every step module is loaded once, so its cache is that function's too.
 *
 * A session is used once: take() hands it over and forgets it; the step ends it. Sessions nobody takes
 * are closed by the step (closeAll) or after maxAgeMs, and one older than that, or closed by the server
 * meanwhile, is never handed out. Only the state a session is in, never what it read, is kept: every
 * step queries afresh. A session the server closed while it was in use is replaced by a new connection
 * (run); a session that timed out is not (the node is slow, and connecting again would double
 * the step's wait).
 */
import type { Client } from 'pg';
import { connectClient, withClient, type Endpoint, type SessionRunner } from './db';
import type { DbCredentials, Deps } from './ports';
import { settings } from './settings';

interface Idle {
  client: Client;
  password: string;
  openedAt: number;
  closed: () => boolean;
}

/** How long a warmed session stays usable: the failover reaches its steps within seconds. */
export const WARM_SESSION_MAX_AGE_MS = 30_000;

export class SessionCache {
  private readonly idle = new Map<string, Idle>();
  private timer: NodeJS.Timeout | undefined;
  /** Sessions handed out since the cache was made (a step reports whether it used a warmed one). */
  taken = 0;
  /**
   * fn over the warmed session for the endpoint when there is one, else over a new connection (db.ts's
   * withClient); a SessionRunner, for functions that take one (db.ts's probeNode). When the server
   * closed the warmed session before or while fn ran, fn runs once more over a new connection: callers
   * pass only what can run twice (reads, idempotent actions).
   */
  readonly run: SessionRunner = async (ep, creds, timeoutMs, fn, database = creds.database) => {
    const s = this.takeIdle(ep, creds, database);
    if (s) {
      try {
        return await fn(s.client);
      } catch (e) {
        // The server ended the session: a FATAL error (e.g. terminated, shutting down) always ends it,
        // and pg reports a closed socket on a later tick than the query it fails.
        if (!s.closed() && !endsSession(e)) await new Promise((r) => setImmediate(r));
        if (!s.closed() && !endsSession(e)) throw e;
      } finally {
        s.client.end().catch(() => undefined);
      }
    }
    return withClient(ep, creds, timeoutMs, fn, database);
  };

  constructor(
    private readonly maxAgeMs = WARM_SESSION_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Open a session to each endpoint (in parallel, each bounded by timeoutMs), replacing any idle one.
   * A node that does not answer is left out: its step connects to it as it would have. Never throws.
   */
  async warm(eps: Endpoint[], creds: DbCredentials, timeoutMs: number, database = creds.database): Promise<number> {
    const opened = await Promise.all(
      eps.map(async (ep) => {
        try {
          const client = await connectClient(ep, creds, timeoutMs, database);
          let closed = false;
          client.once('end', () => (closed = true));
          const k = key(ep, creds, database);
          this.drop(k);
          this.idle.set(k, { client, password: creds.password, openedAt: this.now(), closed: () => closed });
          return 1;
        } catch {
          return 0;
        }
      }),
    );
    // Closed after maxAgeMs if no step takes them (a warm-up whose step never comes: the fencing failed).
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.closeAll(), this.maxAgeMs);
    this.timer.unref();
    return opened.filter((x) => x === 1).length;
  }

  /** The warmed session for this endpoint, user, password and database, if it is young and open. */
  take(ep: Endpoint, creds: DbCredentials, database = creds.database): Client | undefined {
    return this.takeIdle(ep, creds, database)?.client;
  }

  private takeIdle(ep: Endpoint, creds: DbCredentials, database: string): Idle | undefined {
    const k = key(ep, creds, database);
    const s = this.idle.get(k);
    if (!s) return undefined;
    this.idle.delete(k);
    if (s.closed() || s.password !== creds.password || this.now() - s.openedAt > this.maxAgeMs) {
      s.client.end().catch(() => undefined);
      return undefined;
    }
    this.taken++;
    return s;
  }

  /** End every idle session. */
  closeAll(): void {
    for (const k of [...this.idle.keys()]) this.drop(k);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.idle.size;
  }

  private drop(k: string): void {
    const s = this.idle.get(k);
    if (!s) return;
    this.idle.delete(k);
    s.client.end().catch(() => undefined);
  }
}

/**
 * A failover step's warm-up: a session to every standby of the topology (the primary is the node being
 * failed over; the candidate is not elected yet), each connect bounded by the probe timeout. The
 * warm-up runs beside the fencing, in a Parallel state that waits for it: a standby that does not
 * answer holds the failover up to that long (the election then probes it again, as it would have).
 */
export async function warmStandbySessions(cache: SessionCache, deps: Deps): Promise<void> {
  const s = settings();
  if (!s.warmSessions) return;
  const t = await deps.topology.get(deps.cluster);
  const standbys = t.nodes.filter((n) => n.name !== t.primary && n.role === 'standby');
  await cache.warm(standbys, await deps.secrets.admin(), s.probeTimeoutMs, 'postgres');
}

function key(ep: Endpoint, creds: DbCredentials, database: string): string {
  return `${creds.user}@${ep.host}:${ep.port}/${database}`;
}

function endsSession(e: unknown): boolean {
  const severity = (e as { severity?: unknown } | null)?.severity;
  return severity === 'FATAL' || severity === 'PANIC';
}
