/**
 * Precheck: refuse clearly unless the switchover can lose nothing. Automation not paused, no other
 * workflow acting (the lease is taken here), the primary writable, every standby streaming, every
 * pgpool seeing every node up, and the target within the lag threshold.
 */
import { probeNode } from '../lib/db';
import { lambda } from '../lib/handler';
import { pollUntil, type Clock } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { holdLease, live, primaryOf, refuse, replicas, validatePlanned } from '../planned/common';
import { inEveryPgpool, poolView } from '../planned/pgpool';
import { maxLagDefault, type PrecheckResult, type SwitchoverState } from './types';

export async function step(state: SwitchoverState, deps: Deps): Promise<PrecheckResult> {
  validatePlanned(state, deps);
  const t = await holdLease(deps, state.workflow ?? 'switchover', state.executionName, 'take', state.parentExecution);
  const primary = primaryOf(t);
  const nodes = live(t);
  const standbys = nodes.filter((n) => n.role === 'standby');
  if (state.to !== undefined) {
    const target = t.nodes.find((n) => n.name === state.to);
    if (!target) refuse(`unknown node "${state.to}" (nodes: ${nodes.map((n) => n.name).join(', ')})`);
    if (target.name === primary.name) refuse(`${target.name} is already the primary`);
    if (target.role !== 'standby') refuse(`${target.name} is ${target.role}, not a standby`);
    if (target.noFailover) refuse(`${target.name} is tagged noFailover`);
  }
  const creds = await deps.secrets.admin();
  const s = settings();
  const probes = await Promise.all(nodes.map(async (n) => [n, await probeNode(n, creds, s.checkTimeoutMs)] as const));
  for (const [n, p] of probes) {
    if (!p.reachable) refuse(`${n.name} is unreachable (${p.error}): every node must be healthy`);
    if (n.name === primary.name && p.inRecovery) refuse(`primary ${n.name} is in recovery`);
    if (n.role === 'standby' && !p.inRecovery) refuse(`standby ${n.name} is not in recovery`);
  }
  const rep = await replicas(deps, t);
  for (const n of standbys) {
    const r = rep.find((x) => x.name === n.name);
    // A standby cascading from another standby does not show here; it must stream all the same.
    const probe = probes.find(([x]) => x.name === n.name)?.[1];
    if (!r && probe?.walReceiver?.status !== 'streaming') refuse(`standby ${n.name} is not streaming`);
    if (r && r.state !== 'streaming') refuse(`standby ${n.name} is ${r.state}, not streaming`);
  }
  const reattached: string[] = [];
  for (const p of t.pgpools) {
    // Right after an attach, pgpool restarts its children and answers slowly: a few attempts.
    const view = await retry(deps, () => poolView(deps, p), 15_000).catch((e: Error) =>
      refuse(`pgpool ${p.name} is unreachable: ${e.message}`),
    );
    for (const n of nodes) {
      const v = view.find((x) => x.id === n.backendId);
      if (v?.status === 'up') continue;
      // A standby that streams but that pgpool detached (one failed session connection is enough,
      // e.g. a cached connection to a standby that maintenance just restarted) is attached again, as
      // the prober would do (functions/probe/heal.ts) were this workflow not holding the lease.
      const streams = rep.some((r) => r.name === n.name && r.state === 'streaming');
      if (v?.status === 'down' && n.role === 'standby' && streams && !reattached.includes(n.name)) {
        await inEveryPgpool(deps, t, 'pgpool-attach', n);
        reattached.push(n.name);
        continue;
      }
      if (!reattached.includes(n.name)) refuse(`pgpool ${p.name} sees ${n.name} ${v?.status ?? 'missing'}`);
    }
  }
  const eligible = standbys
    .filter((n) => !n.noFailover)
    .map((n) => ({ n, lag: rep.find((x) => x.name === n.name)?.replayLagBytes ?? Infinity }))
    .sort((a, b) => a.lag - b.lag || (b.n.priority ?? 0) - (a.n.priority ?? 0));
  const chosen = state.to ? eligible.find((e) => e.n.name === state.to) : eligible[0];
  if (!chosen) refuse('no standby can take over');
  const maxLag = state.maxLagBytes ?? maxLagDefault();
  if (!(chosen.lag <= maxLag))
    refuse(
      `target ${chosen.n.name} is ${Number.isFinite(chosen.lag) ? `${chosen.lag} bytes` : 'not directly'} behind the primary (max ${maxLag})`,
    );
  return {
    primary: primary.name,
    target: chosen.n.name,
    others: standbys.filter((n) => n.name !== chosen.n.name).map((n) => n.name),
    targetLagBytes: chosen.lag,
    timeline: t.timeline,
    reason: `every node healthy${reattached.length ? ` (attached again: ${reattached.join(', ')})` : ''}; ${chosen.n.name} is ${chosen.lag} bytes behind ${primary.name} (max ${maxLag})`,
  };
}

/** `fn` again every 200 ms while it throws, for `withinMs`; then its last error. */
async function retry<T>(clock: Clock, fn: () => Promise<T>, withinMs: number): Promise<T> {
  let last: unknown;
  return pollUntil(
    clock,
    () =>
      fn().catch((e: unknown) => {
        last = e;
        return undefined;
      }),
    {
      timeoutMs: withinMs,
      intervalMs: 200,
      onTimeout: () => {
        throw last;
      },
    },
  );
}

export const handler = lambda(step);
