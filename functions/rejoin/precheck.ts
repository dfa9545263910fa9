/**
 * Precheck: refuse clearly unless the node can be rejoined: automation not paused, no other workflow
 * acting (the lease is taken here), a known node that is not the primary, a writable primary.
 */
import { probeNode } from '../lib/db';
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { holdLease, primaryOf, refuse, validatePlanned } from '../planned/common';
import type { RejoinState } from './types';

export async function step(state: RejoinState, deps: Deps) {
  validatePlanned(state, deps);
  const t = await holdLease(deps, 'rejoin', state.executionName, 'take');
  const n = t.nodes.find((x) => x.name === state.node);
  if (!n) refuse(`unknown node "${state.node}" (nodes: ${t.nodes.map((x) => x.name).join(', ')})`);
  if (n.name === t.primary) refuse(`${n.name} is the primary: nothing to rejoin`);
  if (n.role === 'removed') refuse(`${n.name} was removed from the cluster (scale out adds nodes)`);
  if (state.method && !['auto', 'rewind', 'basebackup'].includes(state.method))
    refuse(`method must be auto, rewind or basebackup, got "${state.method}"`);
  const primary = primaryOf(t);
  const p = await probeNode(primary, await deps.secrets.admin(), settings().probeTimeoutMs);
  if (!p.reachable || p.inRecovery !== false)
    refuse(`primary ${primary.name} is not writable (${p.error ?? 'in recovery'}): rejoin needs a primary`);
  // Under maintenance while it rejoins: automatic failover ignores it.
  return { primary: primary.name, node: n.name, wasRole: n.role };
}

export const handler = lambda(step);
