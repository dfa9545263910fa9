/**
 * Assess: is the primary really gone? Probe it from here (with a retry: debounce), ask every
 * standby whether its WAL receiver still hears it, and ask every pgpool how it sees it. Stop on a
 * false alarm, when automation is paused, for a standby's failure or a node under maintenance, and
 * when another workflow already holds the cluster's lease.
 */
import { probeNode, showPoolNodes, type NodeProbe } from '../lib/db';
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
  // pgpool's view is asked for in parallel but only awaited when the other vantage points disagree:
  // a pgpool in the middle of its own failover answers slowly.
  const pgpoolViewsP = Promise.all(
    t.pgpools.map(async (p) => {
      try {
        const nodes = await showPoolNodes(p, creds, s.probeTimeoutMs);
        return [p.name, nodes.find((x) => x.id === primary.backendId)?.status ?? 'unknown'] as const;
      } catch (e) {
        return [p.name, `unreachable: ${(e as Error).message}`] as const;
      }
    }),
  );
  const [primaryProbe, standbyProbes] = await Promise.all([
    probeWithRetry(primary, creds, s),
    Promise.all(others.map(async (n) => [n.name, await probeNode(n, creds, s.probeTimeoutMs)] as const)),
  ]);
  const probes: Record<string, NodeProbe> = { [suspect]: primaryProbe, ...Object.fromEntries(standbyProbes) };
  const out = { ...base, probes, pgpoolViews: {} as Record<string, string> };

  if (primaryProbe.reachable && primaryProbe.inRecovery === false) {
    return {
      ...out,
      decision: 'false-alarm',
      reason: `${suspect} answers as a writable primary (${primaryProbe.latencyMs} ms)`,
    };
  }
  if (primaryProbe.reachable && primaryProbe.inRecovery) {
    return { ...out, decision: 'already-handled', reason: `${suspect} is in recovery: it is no longer a primary` };
  }
  const endpoint = `${primary.host}:${primary.port}`;
  const hearing = standbyProbes.filter(
    ([, p]) =>
      p.walReceiver?.status === 'streaming' &&
      p.walReceiver.sender === endpoint &&
      (p.walReceiver.lastMsgAgeMs ?? Infinity) < s.hearingWindowMs,
  );
  // pgpool's own failover_command reporting this node is a vantage point by itself.
  let pgpoolSaysDown = input.trigger.source === 'pgpool';
  if (hearing.length > 0 && !pgpoolSaysDown) {
    out.pgpoolViews = Object.fromEntries(await pgpoolViewsP);
    pgpoolSaysDown = Object.values(out.pgpoolViews).some((v) => v === 'down');
  }
  if (hearing.length > 0 && !pgpoolSaysDown) {
    return {
      ...out,
      decision: 'inconclusive',
      reason: `pgwarden cannot reach ${suspect} (${primaryProbe.error}) but ${hearing.map(([n]) => n).join(', ')} still stream from it and no pgpool saw it fail: a partition on pgwarden's side, no action`,
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
    `unreachable from pgwarden (${primaryProbe.error ?? 'no answer'})`,
    hearing.length === 0 ? 'no standby hears it' : '',
    pgpoolSaysDown ? 'pgpool marked it down' : '',
  ].filter(Boolean);
  return { ...out, decision: 'failover', reason: `primary ${suspect} failed: ${why.join('; ')}` };
}

async function probeWithRetry(
  ep: { host: string; port: number },
  creds: Awaited<ReturnType<Deps['secrets']['admin']>>,
  s: ReturnType<typeof settings>,
): Promise<NodeProbe> {
  let p = await probeNode(ep, creds, s.probeTimeoutMs);
  // A refused connection is definitive (nothing listens on the port); a timeout is retried (debounce).
  for (let i = 1; i < s.probeAttempts && !p.reachable && !/ECONNREFUSED/.test(p.error ?? ''); i++) {
    await new Promise((r) => setTimeout(r, s.probeRetryDelayMs));
    p = await probeNode(ep, creds, s.probeTimeoutMs);
  }
  return p;
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
