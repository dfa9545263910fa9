/**
 * Assess: is the primary really gone? Probe it from here, and ask every standby whether its WAL
 * receiver is still connected to it; when the answer is ambiguous (a timeout), keep asking within a
 * confirmation window (debounce). Stop on a
 * false alarm, when automation is paused, for a standby's failure or a node under maintenance, and
 * when another workflow already holds the cluster's lease.
 */
import { probeNode, type NodeProbe } from '../lib/db';
import { lambda, StepRefusal } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { updateTopology } from '../lib/topology-update';
import type { Topology } from '../lib/topology';
import type { AssessResult, FailoverInput } from './types';

export async function step(input: FailoverInput, deps: Deps): Promise<AssessResult> {
  validateInput(input, deps);
  const s = settings();
  const t = await deps.topology.get(input.cluster);
  const primary = t.nodes.find((n) => n.name === t.primary)!;
  const suspect = input.trigger.suspect ?? t.primary;
  const base = { primary: t.primary, suspect, timeline: t.timeline, probes: {}, pgpoolViews: {} };
  const node = t.nodes.find((n) => n.name === suspect);
  if (!node) return { ...base, decision: 'already-handled', reason: `unknown node "${suspect}": nothing to do` };
  if (t.paused)
    return { ...base, decision: 'paused', reason: `automation is paused: ${t.pausedReason ?? 'no reason given'}` };
  if (suspect !== t.primary) {
    if (node.role === 'fenced') return { ...base, decision: 'already-handled', reason: `${suspect} is already fenced` };
    return {
      ...base,
      decision: 'standby-failure',
      reason: `${suspect} is a ${node.role}, not the primary: no promotion`,
    };
  }
  if (primary.maintenance) {
    return {
      ...base,
      decision: 'maintenance',
      reason: `${suspect} is under planned maintenance: automatic failover suppressed`,
    };
  }
  if (t.lease && t.lease.execution !== input.executionName && Date.parse(t.lease.expiresAt) > deps.now().getTime()) {
    return {
      ...base,
      decision: 'duplicate',
      reason: `${t.lease.workflow} ${t.lease.execution} is already acting on the cluster`,
    };
  }

  const creds = await deps.secrets.admin();
  const others = t.nodes.filter((n) => n.name !== suspect && n.role === 'standby');
  const endpoint = `${primary.host}:${primary.port}`;
  const round = () =>
    Promise.all([
      probeNode(primary, creds, s.probeTimeoutMs),
      Promise.all(others.map(async (n) => [n.name, await probeNode(n, creds, s.probeTimeoutMs)] as const)),
    ]);
  // A standby whose WAL receiver is still connected to the primary is evidence that it lives.
  const hearingOf = (ps: (readonly [string, NodeProbe])[]) =>
    ps.filter(([, p]) => p.walReceiver?.status === 'streaming' && p.walReceiver.sender === endpoint).map(([n]) => n);
  // A refused connection is definitive (nothing listens: PostgreSQL is gone); a timeout is not (a
  // slow or partitioned primary): then wait, up to the confirmation window, until the primary answers
  // again (a false alarm) or no standby is connected to it any more (they time out after
  // wal_receiver_timeout).
  let [primaryProbe, standbyProbes] = await round();
  const refused = () => /ECONNREFUSED/.test(primaryProbe.error ?? '');
  const deadline = Date.now() + s.confirmWindowMs;
  let rounds = 1;
  while (!primaryProbe.reachable && !refused() && hearingOf(standbyProbes).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, s.probeRetryDelayMs));
    [primaryProbe, standbyProbes] = await round();
    rounds++;
  }
  const hearing = hearingOf(standbyProbes);
  const probes: Record<string, NodeProbe> = { [suspect]: primaryProbe, ...Object.fromEntries(standbyProbes) };
  const out = { ...base, probes, pgpoolViews: {} as Record<string, string> };

  if (primaryProbe.reachable && primaryProbe.inRecovery === false) {
    return {
      ...out,
      decision: 'false-alarm',
      reason: `${suspect} answers as a writable primary (${primaryProbe.latencyMs} ms, probe round ${rounds})`,
    };
  }
  if (primaryProbe.reachable && primaryProbe.inRecovery) {
    return { ...out, decision: 'already-handled', reason: `${suspect} is in recovery: it is no longer a primary` };
  }
  if (!refused() && hearing.length > 0) {
    return {
      ...out,
      decision: 'inconclusive',
      reason: `pgwarden cannot reach ${suspect} (${primaryProbe.error}) but ${hearing.join(', ')} are still connected to it after ${s.confirmWindowMs} ms: no action`,
    };
  }
  // Confirmed: take the cluster's lease for this execution (compare-and-set on the topology).
  let lost: string | undefined;
  await updateTopology(deps, (cur: Topology) => {
    if (
      cur.lease &&
      cur.lease.execution !== input.executionName &&
      Date.parse(cur.lease.expiresAt) > deps.now().getTime()
    ) {
      lost = cur.lease.execution;
      return undefined;
    }
    if (cur.primary !== t.primary) {
      lost = `primary changed to ${cur.primary}`;
      return undefined;
    }
    const now = deps.now();
    return {
      ...cur,
      lease: {
        workflow: 'failover',
        execution: input.executionName,
        since: now.toISOString(),
        expiresAt: new Date(now.getTime() + s.leaseMs).toISOString(),
      },
    };
  });
  if (lost) return { ...out, decision: 'duplicate', reason: `another workflow holds the cluster: ${lost}` };
  const why = [
    refused()
      ? `its port refuses connections (${primaryProbe.error})`
      : `unreachable (${primaryProbe.error ?? 'no answer'})`,
    hearing.length === 0 && others.length ? 'no standby is connected to it' : '',
    input.trigger.source === 'pgpool' ? 'pgpool detached it' : '',
  ].filter(Boolean);
  return { ...out, decision: 'failover', reason: `primary ${suspect} failed: ${why.join('; ')}` };
}

export function validateInput(input: FailoverInput, deps: Pick<Deps, 'cluster'>): void {
  if (!input || typeof input !== 'object') throw new StepRefusal('InvalidInput', 'workflow input must be an object');
  if (input.cluster !== deps.cluster) {
    throw new StepRefusal(
      'InvalidInput',
      `workflow input is for cluster "${input.cluster}", this deployment manages "${deps.cluster}"`,
    );
  }
  if (!input.trigger || typeof input.trigger.source !== 'string') {
    throw new StepRefusal('InvalidInput', 'workflow input has no trigger');
  }
  if (typeof input.executionName !== 'string' || !input.executionName) {
    throw new StepRefusal('InvalidInput', 'workflow input has no executionName');
  }
}

export const handler = lambda(step);
