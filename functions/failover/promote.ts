/**
 * Promote the elected standby. Its synchronous quorum is set first (ANY q over the other standbys)
 * so that no commit is acknowledged on the new timeline without a standby; with no standby left to
 * follow it, the cluster runs degraded (asynchronous) and says so. Replication slots for the other
 * standbys are created before promotion, so they can stream the moment they are repointed, and one for
 * the old primary, which keeps the WAL its rejoin replays after a rewind. The topology records the new
 * primary and timeline at once, so late sensors see that the failure was handled.
 */
import { lambda, StepRefusal } from '../lib/handler';
import { REFUSED, renewLease } from '../lib/lease';
import { nodeAction } from '../lib/node-action';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { SessionCache, warmStandbySessions } from '../lib/session-cache';
import { promoteOverSql } from '../lib/sql-node';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { promoted } from '../lib/topology-changes';
import { requireState, type FailoverState, type PromoteResult } from './types';

/** Sessions to the standbys (the candidate is not known yet), opened by the warm-up while the old primary is fenced. */
const sessions = new SessionCache();

/** The warm-up (WarmPromote): a session to every standby that may be elected. */
export async function warm(deps: Deps): Promise<void> {
  if (settings().nodeActionsOverSql) await warmStandbySessions(sessions, deps);
}

export async function step(state: FailoverState, deps: Deps): Promise<PromoteResult> {
  try {
    return await promote(state, deps);
  } finally {
    sessions.closeAll();
  }
}

async function promote(state: FailoverState, deps: Deps): Promise<PromoteResult> {
  const elect = requireState(state.elect, 'elect');
  const assess = requireState(state.assess, 'assess');
  const t = await renewLease(deps, 'failover', state.executionName, { ignorePause: true });
  const cand = nodeByName(t, requireState(elect.candidate, 'elect.candidate'));
  // A retry after the promotion finds the candidate recorded as primary; anything else means the
  // world changed since the election: promoting now could make a second primary.
  if (t.primary !== assess.primary && t.primary !== cand.name)
    throw new StepRefusal(REFUSED, `failover stopped: the primary changed to ${t.primary} since the election`);
  const others = t.nodes
    .filter((n) => n.name !== cand.name && n.name !== assess.primary && n.role === 'standby')
    .map((n) => n.name);
  // Quorum over the other standbys that can follow (reachable at election). None left: in strict mode
  // commits wait for one of them to come back; otherwise the new primary runs asynchronous, which the
  // topology records (degraded: a metric, an alarm, a line in status, and no zero-loss proof later).
  const reachableOthers = others.filter((n) => elect.standbys[n]?.reachable).length;
  const q =
    settings().syncStrict && others.length
      ? Math.min(t.syncQuorum, others.length)
      : Math.min(t.syncQuorum, reachableOthers);
  const sync = q > 0 ? `ANY ${q} (${others.join(', ')})` : '';
  // A slot for the old primary too: the new timeline's WAL from the fork stays until it is rewound
  // and rejoins (bounded by max_slot_wal_keep_size), so that a rejoin can rewind instead of copying.
  const slots = [...others, assess.primary];
  const viaSsm = async () => {
    const res = await nodeAction(deps, cand, 'promote', { SYNC_STANDBYS: sync, SLOTS: slots.join(',') });
    const timeline = Number(res.timeline);
    if (!Number.isInteger(timeline))
      throw new Error(`promote on ${cand.name} reported no timeline: ${JSON.stringify(res)}`);
    return { timeline, lsn: res.lsn };
  };
  // Over the SQL connection first (promote.sh's statements, without SSM's round trip); SSM when SQL
  // fails (both are idempotent), and for the fence marker, which only the node's files hold.
  let res: { timeline: number; lsn: string };
  let marker = false;
  const taken = sessions.taken;
  try {
    if (!settings().nodeActionsOverSql) throw new Error('switched off (PGWARDEN_NODE_ACTIONS_OVER_SQL=0)');
    const r = await promoteOverSql(cand, await deps.secrets.admin(), {
      sync,
      slots,
      connectTimeoutMs: settings().checkTimeoutMs,
      promoteTimeoutMs: settings().nodeCommandTimeoutMs,
      clock: deps,
      session: sessions.run,
    });
    res = { timeline: r.timeline, lsn: r.lsn };
    marker = r.fenceMarker;
  } catch (e) {
    deps.log('promotion over SQL failed; promoting through the node command', {
      node: cand.name,
      error: (e as Error).message,
    });
    res = await viaSsm();
  }
  const timeline = res.timeline;
  if (!Number.isInteger(timeline)) throw new Error(`promote on ${cand.name} reported no timeline`);
  // Standbys that were unreachable, or behind the election, are stale until they rejoin.
  await updateTopology(deps, (cur) =>
    promoted(cur, {
      node: cand.name,
      timeline,
      sync,
      lsn: res.lsn,
      previous: assess.primary,
      execution: state.executionName,
      at: deps.now(),
      stale: (n) => !elect.standbys[n]?.reachable || !!elect.stale?.includes(n),
    }),
  );
  // A fence marker left from an earlier fencing would keep the new primary from starting as one:
  // promote.sh (idempotent on a primary) removes it, after the promotion is recorded.
  if (marker) await viaSsm();
  deps.log('promoted', { node: cand.name, timeline, sync });
  return {
    node: cand.name,
    timeline,
    lsn: res.lsn,
    synchronousStandbyNames: sync,
    warmSession: sessions.taken > taken,
  };
}

export const handler = lambda(step, warm);
