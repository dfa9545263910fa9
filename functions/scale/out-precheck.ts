/**
 * Scale-out precheck: refuse unless a standby can be added: not paused, no other workflow (the lease
 * is taken here), a node name and pgpool backend id not in use, a writable primary.
 */
import { probeNode } from '../lib/db';
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { holdLease, live, primaryOf, refuse, validatePlanned } from '../planned/common';
import type { ScaleOutInput } from './types';

export async function step(state: ScaleOutInput, deps: Deps) {
  validatePlanned(state, deps);
  const n = state.node;
  if (!n || typeof n.name !== 'string' || !/^[a-z][a-z0-9_-]{0,30}$/.test(n.name))
    refuse('scale-out needs the new node: name, host, port, backendId, instanceId');
  if (!Number.isInteger(n.port) || !Number.isInteger(n.backendId) || typeof n.host !== 'string')
    refuse(`node ${n.name}: host, port and backendId are required`);
  const t = await holdLease(deps, 'scale-out', state.executionName, 'take');
  const clash = live(t).find((x) => x.name === n.name || x.backendId === n.backendId);
  if (clash) refuse(`node ${n.name} (backend ${n.backendId}) clashes with ${clash.name} in the cluster`);
  const primary = primaryOf(t);
  const p = await probeNode(primary, await deps.secrets.admin(), settings().probeTimeoutMs);
  if (!p.reachable || p.inRecovery !== false) refuse(`primary ${primary.name} is not writable`);
  return { primary: primary.name, node: n.name };
}

export const handler = lambda(step);
