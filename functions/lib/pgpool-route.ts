/**
 * Routing writes through a pgpool to a new primary: one implementation for the failover
 * (ReconfigurePgpools) and the planned workflows (switchover's UpdatePgpools, the abort).
 */
import { pgpoolBackends, type PoolNode } from './db';
import { nodeAction, NodeActionFailed } from './node-action';
import { pollUntil } from './poll';
import type { Deps } from './ports';
import { settings } from './settings';
import type { PgpoolSpec } from './topology';

type Backend = { name: string; backendId: number };

export interface Routed {
  /** The detaches and attaches done on the way, each with its outcome ('ok' or the script's words). */
  actions: string[];
  waitedMs: number;
  /** The pgpool's last view of its backends. */
  view: PoolNode[];
}

/** A pgpool's view of its backends (pgpoolBackends: pgpool's status and role for each, no backend contacted). */
export async function poolView(deps: Pick<Deps, 'secrets'>, p: PgpoolSpec): Promise<PoolNode[]> {
  // checkTimeoutMs, not the probe deadline: while pgpool processes a failover, a new connection to it
  // waits until that ends.
  return pgpoolBackends(p, await deps.secrets.pgpool(), settings().checkTimeoutMs);
}

/** Detach or attach a backend in one pgpool; the script's refusal is an outcome, not an error. */
export async function pgpoolAction(
  deps: Pick<Deps, 'nodes'>,
  p: PgpoolSpec,
  action: 'pgpool-detach' | 'pgpool-attach',
  node: Backend,
): Promise<string> {
  const outcome = await nodeAction(deps, p, action, { NODE_ID: String(node.backendId) }).then(
    () => 'ok',
    (e: unknown) => {
      if (e instanceof NodeActionFailed) return e.why;
      throw e;
    },
  );
  return `${action} ${node.name}: ${outcome}`;
}

/**
 * Wait (at most pgpoolWaitMs) until pgpool `p` routes writes to `primary`: shows it up, as the
 * primary. pgpool finds the new primary by itself once the old one is detached, so `old` is detached
 * whenever this pgpool still shows it up (a pgpool without traffic may not have noticed the change);
 * after half the budget with `primary` marked down here, `primary` is attached (again at most once a
 * second), which makes pgpool search again. A pgpool that cannot be reached counts as showing nothing.
 */
export async function routeWritesTo(
  deps: Pick<Deps, 'nodes' | 'secrets' | 'now' | 'sleep'>,
  p: PgpoolSpec,
  primary: Backend,
  old: Backend | undefined,
): Promise<Routed> {
  const s = settings();
  const actions: string[] = [];
  let view: PoolNode[] = [];
  let kickedAt: number | undefined;
  const at = (n: Backend) => view.find((v) => v.id === n.backendId);
  return pollUntil(
    deps,
    async (poll) => {
      view = await poolView(deps, p).catch(() => []);
      if (old && at(old)?.status === 'up') actions.push(await pgpoolAction(deps, p, 'pgpool-detach', old));
      if (at(primary)?.status === 'up' && at(primary)?.role === 'primary')
        return { actions, waitedMs: poll.elapsedMs(), view };
      return undefined;
    },
    {
      timeoutMs: s.pgpoolWaitMs,
      intervalMs: 50,
      onTimeout: () => {
        throw new Error(`pgpool ${p.name} does not route writes to ${primary.name} after ${s.pgpoolWaitMs} ms`);
      },
      meanwhile: async (poll) => {
        const now = poll.elapsedMs();
        if (view.length && now > s.pgpoolWaitMs / 2 && at(primary)?.status === 'down') {
          if (kickedAt !== undefined && now - kickedAt < 1000) return;
          kickedAt = now;
          actions.push(await pgpoolAction(deps, p, 'pgpool-attach', primary));
        }
      },
    },
  );
}

/**
 * Attach `node` in pgpool `p` (pgpool-attach.sh attaches only a backend that pgpool host reaches):
 * whether it took, and otherwise why not (the script's reason, its last words, or the transport's
 * error), never an exception.
 */
export async function attachIn(
  deps: Pick<Deps, 'nodes'>,
  p: PgpoolSpec,
  node: Backend,
  timeoutMs = settings().nodeCommandTimeoutMs,
): Promise<{ attached: boolean; why?: string }> {
  try {
    const r = await nodeAction(deps, p, 'pgpool-attach', { NODE_ID: String(node.backendId) }, timeoutMs);
    return r.changed === 'yes' ? { attached: true } : { attached: false, why: r.reason };
  } catch (e) {
    return { attached: false, why: e instanceof NodeActionFailed ? e.why : (e as Error).message };
  }
}
