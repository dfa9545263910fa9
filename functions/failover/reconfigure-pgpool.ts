/**
 * Every pgpool must route writes to the new primary and reads to the standbys that follow it. pgpool
 * finds the new primary by itself once its failover_command (our hook) returns; this step waits for
 * that with a deadline, detaches the fenced node wherever it is still attached, and attaches
 * following standbys that a pgpool had marked down. If a pgpool still has no primary, a re-attach of
 * the new primary makes it search again.
 */
import { showPoolNodes, type PoolNode } from '../lib/db';
import { lambda } from '../lib/handler';
import { nodeAction, NodeActionFailed } from '../lib/node-action';
import { renewLease } from '../lib/lease';
import { pollUntil } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { nodeByName, type PgpoolSpec } from '../lib/topology';
import { requireState, type FailoverState } from './types';

export interface PgpoolOutcome {
  routesWritesTo: string | null;
  actions: string[];
  waitedMs: number;
}

export async function step(state: FailoverState, deps: Deps): Promise<Record<string, PgpoolOutcome>> {
  const promote = requireState(state.promote, 'promote');
  const assess = requireState(state.assess, 'assess');
  const repoint = requireState(state.repoint, 'repoint');
  const t = await renewLease(deps, 'failover', state.executionName, { primary: promote.node, ignorePause: true });
  const primary = nodeByName(t, promote.node);
  const old = nodeByName(t, assess.primary);
  const followers = repoint.following.map((n) => nodeByName(t, n));
  const out = await Promise.all(
    t.pgpools.map(
      async (p) =>
        [
          p.name,
          await converge(
            p,
            primary.backendId,
            old.backendId,
            followers.map((f) => f.backendId),
            deps,
            t.nodes,
          ),
        ] as const,
    ),
  );
  return Object.fromEntries(out);
}

async function converge(
  p: PgpoolSpec,
  primaryId: number,
  oldId: number,
  followerIds: number[],
  deps: Deps,
  nodes: { name: string; backendId: number }[],
): Promise<PgpoolOutcome> {
  const s = settings();
  const creds = await deps.secrets.pgpool();
  const t0 = deps.now().getTime();
  const actions: string[] = [];
  const run = async (action: 'pgpool-detach' | 'pgpool-attach', id: number) => {
    const outcome = await nodeAction(deps, p, action, { NODE_ID: String(id) }, s.nodeCommandTimeoutMs).then(
      () => 'ok',
      (e: unknown) => {
        if (e instanceof NodeActionFailed) return e.why;
        throw e;
      },
    );
    actions.push(`${action} ${nodes.find((n) => n.backendId === id)?.name ?? id}: ${outcome}`);
  };
  let view: PoolNode[] = [];
  let kicked = false;
  const byId = (id: number) => view.find((v) => v.id === id);
  await pollUntil(
    deps,
    async () => {
      try {
        // checkTimeoutMs, not the probe deadline: SHOW POOL_NODES waits for pgpool to reach every
        // backend, and one that silently drops traffic (a partitioned old primary) costs seconds.
        view = await showPoolNodes(p, creds, s.checkTimeoutMs);
      } catch {
        view = [];
      }
      if (byId(oldId)?.status === 'up') await run('pgpool-detach', oldId);
      const ok = byId(primaryId)?.status === 'up' && byId(primaryId)?.role === 'primary';
      return ok ? true : undefined;
    },
    {
      deadline: t0 + s.pgpoolWaitMs,
      intervalMs: 50,
      onTimeout: () => {
        throw new Error(`pgpool ${p.name} does not route to the new primary after ${s.pgpoolWaitMs} ms`);
      },
      // Half the budget spent with no primary in this pgpool: make it search again.
      meanwhile: async () => {
        if (!kicked && view.length && deps.now().getTime() - t0 > s.pgpoolWaitMs / 2) {
          kicked = true;
          if (byId(primaryId)?.status === 'down') await run('pgpool-attach', primaryId);
        }
      },
    },
  );
  for (const id of followerIds) if (view.find((v) => v.id === id)?.status === 'down') await run('pgpool-attach', id);
  const routes = view.find((v) => v.role === 'primary' && v.status === 'up');
  return {
    routesWritesTo: nodes.find((n) => n.backendId === routes?.id)?.name ?? null,
    actions,
    waitedMs: deps.now().getTime() - t0,
  };
}

export const handler = lambda(step);
