/**
 * Plan: refuse unless rolling maintenance can keep the cluster writable (not paused, no other
 * workflow — the lease is taken here for the whole run —, every node healthy, at least one standby to
 * switch over to); the standbys in the order they will be maintained, then the switchover (the
 * switchover workflow as a nested execution: its name is chosen here), then the old primary.
 */
import { probeNode } from '../lib/db';
import { executionName } from '../lib/execution-name';
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { holdLease, live, refuse, validatePlanned } from '../planned/common';
import type { MaintenanceInput, NodeMaintenance } from './types';

export const SAFE_COMMAND = /^[^'\\\r\n]{1,500}$/;

export async function step(state: MaintenanceInput, deps: Deps) {
  validatePlanned(state, deps);
  const command = state.command ?? 'restart';
  if (!SAFE_COMMAND.test(command)) refuse('command must be 1-500 characters with no quote, backslash or newline');
  const t = await holdLease(deps, 'maintenance', state.executionName, 'take');
  const creds = await deps.secrets.admin();
  const nodes = live(t);
  for (const n of nodes) {
    const p = await probeNode(n, creds, settings().checkTimeoutMs);
    if (!p.reachable) refuse(`${n.name} is unreachable (${p.error}): every node must be healthy`);
  }
  const standbys = nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  if (!standbys.length) refuse('no standby to switch over to: maintenance would stop writes');
  const item = (node: string): NodeMaintenance => ({
    cluster: state.cluster,
    workflow: 'maintenance',
    executionName: state.executionName,
    reason: state.reason,
    at: state.at,
    node,
    command,
  });
  // The switch is the switchover workflow, run as a nested execution under this name.
  const switchover = executionName([state.executionName, 'switchover']);
  return { primary: t.primary, command, standbys: standbys.map(item), switchover };
}

export const handler = lambda(step);
