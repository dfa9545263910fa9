/**
 * Bring the node back on the primary's timeline: pg_rewind (wal_log_hints is on), or a fresh
 * pg_basebackup when rewind is impossible (e.g. the WAL it needs is gone) or asked for; then it
 * starts as a standby of the primary and streams. The node stays detached in pgpool until it has
 * caught up. The method used is reported.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { holdLease, nodeAction, primaryOf } from '../switchover/common';
import { inEveryPgpool } from '../switchover/pgpool';
import type { RejoinState } from './types';

export async function step(state: RejoinState, deps: Deps) {
  const t = await holdLease(deps, 'rejoin', state.executionName);
  const node = nodeByName(t, state.node);
  const primary = primaryOf(t);
  // Not routed to while it is rewound (a pgpool may have kept a fenced node attached).
  await inEveryPgpool(deps, t, 'pgpool-detach', node).catch(() => undefined);
  const t0 = Date.now();
  const r = await nodeAction(
    deps,
    node,
    'rejoin',
    {
      PRIMARY_HOST: primary.host,
      PRIMARY_PORT: String(primary.port),
      METHOD: state.method ?? 'auto',
      WAIT_SECONDS: '300',
    },
    3_600_000,
  );
  await updateTopology(deps, (cur) => {
    const n = cur.nodes.find((x) => x.name === node.name);
    if (!n || n.role === 'standby') return undefined;
    n.role = 'standby';
    n.maintenance = true; // not yet attached: automatic failover ignores it until then
    return cur;
  });
  return { method: r.method ?? 'unknown', durationMs: Date.now() - t0 };
}

export const handler = lambda(step);
