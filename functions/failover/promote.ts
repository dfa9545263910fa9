/**
 * Promote the elected standby. Its synchronous quorum is set first (ANY q over the other standbys)
 * so that no commit is acknowledged on the new timeline without a standby; with no standby left to
 * follow it, the cluster runs degraded (asynchronous) and says so. Replication slots for the other
 * standbys are created before promotion, so they can stream the moment they are repointed, and one for
 * the old primary, which keeps the WAL its rejoin replays after a rewind. The topology records the new
 * primary and timeline at once, so late sensors see that the failure was handled.
 */
import { lambda } from '../lib/handler';
import { parseResult } from '../lib/node-result';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { nodeByName, withEvent } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { requireState, type FailoverState, type PromoteResult } from './types';

export async function step(state: FailoverState, deps: Deps): Promise<PromoteResult> {
  const elect = requireState(state.elect, 'elect');
  const assess = requireState(state.assess, 'assess');
  const t = await deps.topology.get(state.cluster);
  const cand = nodeByName(t, requireState(elect.candidate, 'elect.candidate'));
  const others = t.nodes
    .filter((n) => n.name !== cand.name && n.name !== assess.primary && n.role === 'standby')
    .map((n) => n.name);
  // Quorum over the other standbys that can follow (reachable at election); none left: degraded.
  const q = Math.min(t.syncQuorum, others.filter((n) => elect.standbys[n]?.reachable).length);
  const sync = q > 0 ? `ANY ${q} (${others.join(', ')})` : '';
  // A slot for the old primary too: the new timeline's WAL from the fork stays until it is rewound
  // and rejoins (bounded by max_slot_wal_keep_size), so that a rejoin can rewind instead of copying.
  const r = await deps.nodes.run(
    cand.instanceId,
    'promote',
    { SYNC_STANDBYS: sync, SLOTS: [...others, assess.primary].join(',') },
    { timeoutMs: settings().nodeCommandTimeoutMs },
  );
  if (!r.ok) throw new Error(`promote on ${cand.name} failed: ${r.stderr.trim().split('\n').pop()}`);
  const res = parseResult(r.stdout);
  const timeline = Number(res.timeline);
  if (!Number.isInteger(timeline)) throw new Error(`promote on ${cand.name} reported no timeline: ${r.stdout.trim()}`);
  await updateTopology(deps, (cur) => {
    if (cur.primary === cand.name && cur.timeline === timeline) return undefined;
    const next = withEvent(
      { ...cur, primary: cand.name, timeline },
      'promoted',
      {
        node: cand.name,
        timeline,
        previous: assess.primary,
        execution: state.executionName,
        synchronousStandbyNames: sync,
      },
      deps.now(),
    );
    for (const n of next.nodes) if (n.name === cand.name) n.role = 'primary';
    if (next.absentSince) delete next.absentSince[cand.name];
    return next;
  });
  deps.log('promoted', { node: cand.name, timeline, sync });
  return { node: cand.name, timeline, lsn: res.lsn, synchronousStandbyNames: sync };
}

export const handler = lambda(step);
