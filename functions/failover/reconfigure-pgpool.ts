/**
 * Every pgpool must route writes to the new primary and reads to the standbys that follow it. pgpool
 * finds the new primary by itself once its failover_command (our hook) returns; this step waits for
 * that with a deadline, detaches the fenced node wherever it is still attached, and attaches
 * following standbys that a pgpool had marked down. If a pgpool still has no primary, a re-attach of
 * the new primary makes it search again.
 */
import { lambda } from '../lib/handler';
import { renewLease } from '../lib/lease';
import { pgpoolAction, routeWritesTo } from '../lib/pgpool-route';
import type { Deps } from '../lib/ports';
import { nodeByName, type NodeSpec, type PgpoolSpec } from '../lib/topology';
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
    t.pgpools.map(async (p) => [p.name, await converge(p, primary, old, followers, deps, t.nodes)] as const),
  );
  return Object.fromEntries(out);
}

/** One pgpool: writes routed to the new primary (the fenced one detached), followers marked down attached. */
async function converge(
  p: PgpoolSpec,
  primary: NodeSpec,
  old: NodeSpec,
  followers: NodeSpec[],
  deps: Deps,
  nodes: NodeSpec[],
): Promise<PgpoolOutcome> {
  const t0 = deps.now().getTime();
  const { actions, view } = await routeWritesTo(deps, p, primary, old);
  for (const f of followers)
    if (view.find((v) => v.id === f.backendId)?.status === 'down')
      actions.push(await pgpoolAction(deps, p, 'pgpool-attach', f));
  const routes = view.find((v) => v.role === 'primary' && v.status === 'up');
  return {
    routesWritesTo: nodes.find((n) => n.backendId === routes?.id)?.name ?? null,
    actions,
    waitedMs: deps.now().getTime() - t0,
  };
}

export const handler = lambda(step);
