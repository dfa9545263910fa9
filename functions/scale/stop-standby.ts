/**
 * Stop the leaving standby cleanly, drop its replication slot on the primary (no orphaned slot
 * holding WAL), and mark it removed in the topology. pgpool keeps the backend, detached, so that the
 * other backends' ids never shift.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { removeStandby } from '../lib/topology-changes';
import { probeNode } from '../lib/db';
import { settings } from '../lib/settings';
import { holdLease, live, nodeAction, primaryOf, slotName, sql, waitNoNewSessions } from '../planned/common';
import type { ScaleInInput } from './types';

export async function step(state: ScaleInInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-in', state.executionName);
  const node = nodeByName(t, state.precheck?.node ?? '');
  const creds = await deps.secrets.admin();
  // Sessions that began just before the detach still open their connection to it: let them.
  const quiet = await waitNoNewSessions(node, creds, { clock: deps }).catch((e: Error) => ({ error: e.message }));
  await nodeAction(deps, node, 'stop', { MODE: 'fast' });
  const primary = primaryOf(t);
  // Its slot goes everywhere: on the primary, and on any standby that once was primary or upstream.
  let dropped = 0;
  for (const n of live(t).filter((x) => x.name !== node.name)) {
    if (n.name !== primary.name && !(await probeNode(n, creds, settings().probeTimeoutMs)).reachable) continue;
    const r = await nodeAction(deps, n, 'slots', { DROP: node.name });
    dropped += Number(r.dropped ?? 0);
  }
  const left = await sql<{ n: number }>(
    primary,
    creds,
    'select count(*)::int as n from pg_replication_slots where slot_name = $1',
    [slotName(node.name)],
  );
  if (left[0].n !== 0) throw new Error(`the slot of ${node.name} is still on ${primary.name}`);
  await updateTopology(deps, (cur) => removeStandby(cur, node.name, state.executionName, deps.now()));
  return { node: node.name, slotsDropped: dropped, quiet };
}

export const handler = lambda(step);
