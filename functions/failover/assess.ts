/**
 * Assess: is the primary really gone? Probe it from here, and (unless its port refuses at once) ask
 * every standby whether its WAL receiver is still connected to it (and, when no standby answers,
 * every pgpool whether it counts it up); when the answer is ambiguous (a timeout), keep asking within
 * a confirmation window (debounce).
 * Only a witness that answers can confirm a failure: when pgwarden itself is cut off, the result is
 * "inconclusive", never a fence. Stop on a false alarm, when automation is paused, for a standby's
 * failure or a node under maintenance, and when a failover or switchover already holds the cluster's
 * lease; other planned work is pre-empted.
 */
import { probeNode, pgpoolBackends, type NodeProbe } from '../lib/db';
import { activeLease, preemptible, takeLease } from '../lib/lease';
import { lambda, StepRefusal } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import type { AssessResult, FailoverInput } from './types';

/**
 * How long the standbys' probes wait for the primary's: a refused connection comes back within a
 * round trip (a RST), a dead host's after the probe timeout.
 */
const REFUSAL_HEAD_START_MS = 50;

type StandbyProbes = (readonly [string, NodeProbe])[];

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
  // A failover never waits behind planned work that does not move the primary (it pre-empts it once
  // the failure is confirmed); a running failover or switchover is left to finish.
  const held = activeLease(t, deps.now());
  if (held && held.execution !== input.executionName && !preemptible(held)) {
    return {
      ...base,
      decision: 'duplicate',
      reason: `${held.workflow} ${held.execution} is already acting on the cluster`,
    };
  }

  const creds = await deps.secrets.admin();
  const others = t.nodes.filter((n) => n.name !== suspect && n.role === 'standby');
  const endpoint = `${primary.host}:${primary.port}`;
  const probeStandbys = () =>
    Promise.all(others.map(async (n) => [n.name, await probeNode(n, creds, s.probeTimeoutMs)] as const));
  // pgpool's view is asked only when no standby answers: during pgpool's own failover processing a
  // new connection to it waits, which must not slow the common path.
  const pgpoolViews = async () =>
    Object.fromEntries(
      await Promise.all(
        t.pgpools.map(async (p) => {
          try {
            const v = await pgpoolBackends(p, await deps.secrets.pgpool(), s.probeTimeoutMs);
            const mine = v.find((x) => x.id === primary.backendId);
            return [p.name, mine ? mine.status : 'no such backend'] as const;
          } catch (e) {
            return [p.name, `unreachable: ${(e as Error).message}`] as const;
          }
        }),
      ),
    );
  const round = async () => {
    const primaryP = probeNode(primary, creds, s.probeTimeoutMs);
    // A refused connection decides alone (see below): when the primary's port refuses at once, as
    // after a crash or a kill, the standbys are not asked. Their connects (TCP, TLS, SCRAM) would
    // only delay the fencing, and their answers cannot change the decision.
    const early = await Promise.race([primaryP, deps.sleep(REFUSAL_HEAD_START_MS).then(() => undefined)]);
    if (early && isRefused(early)) return { primaryProbe: early, standbyProbes: [] as StandbyProbes, views: {} };
    const [p, st] = await Promise.all([primaryP, probeStandbys()]);
    const needViews = !p.reachable && !isRefused(p) && !st.some(([, x]) => x.reachable);
    return { primaryProbe: p, standbyProbes: st, views: needViews ? await pgpoolViews() : {} };
  };
  // Evidence, from the vantage points that answer. A refused connection is definitive (the host
  // answered: nothing listens, PostgreSQL is gone). A timeout is not: the primary may be slow, or
  // pgwarden itself may be cut off. A standby that answers says whether it still hears the primary
  // (its WAL receiver streams from it); a pgpool that answers says whether it still counts it up.
  // Unreachable is unknown, and unknown never fences: the failure must be confirmed by a witness
  // that answers. While standbys still hear the primary, or nobody answers, keep asking within the
  // confirmation window (standbys of a dead host disconnect after wal_receiver_timeout).
  let r = await round();
  const deadline = deps.now().getTime() + s.confirmWindowMs;
  let rounds = 1;
  const evidence = (x: typeof r) => judge(x.primaryProbe, x.standbyProbes, x.views, endpoint);
  while (
    !r.primaryProbe.reachable &&
    !isRefused(r.primaryProbe) &&
    !evidence(r).confirmed &&
    deps.now().getTime() < deadline
  ) {
    await deps.sleep(s.probeRetryDelayMs);
    r = await round();
    rounds++;
  }
  const { primaryProbe, standbyProbes, views } = r;
  const ev = evidence(r);
  const probes: Record<string, NodeProbe> = { [suspect]: primaryProbe, ...Object.fromEntries(standbyProbes) };
  const out = { ...base, probes, pgpoolViews: views };

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
  if (!isRefused(primaryProbe) && ev.hearing.length > 0) {
    return {
      ...out,
      decision: 'inconclusive',
      reason: `pgwarden cannot reach ${suspect} (${primaryProbe.error}) but ${ev.hearing.join(', ')} are still connected to it after ${s.confirmWindowMs} ms: no action`,
    };
  }
  if (!isRefused(primaryProbe) && !ev.confirmed) {
    return {
      ...out,
      decision: 'inconclusive',
      reason: `pgwarden cannot reach ${suspect} (${primaryProbe.error ?? 'no answer'}) and no standby or pgpool that answers confirms its failure (standbys: ${describeUnreachable(standbyProbes)}; pgpools: ${describeViews(views)}): unknown is not failed, nothing fenced`,
    };
  }
  // Confirmed: take the cluster's lease for this execution (compare-and-set on the topology),
  // pre-empting planned work that does not move the primary.
  const taken = await takeLease(deps, 'failover', input.executionName, { primary: t.primary, preempt: true });
  if (!taken.taken)
    return { ...out, decision: 'duplicate', reason: `another workflow holds the cluster: ${taken.why}` };
  const why = [
    isRefused(primaryProbe)
      ? `its port refuses connections (${primaryProbe.error})`
      : `unreachable (${primaryProbe.error ?? 'no answer'})`,
    ev.deaf.length ? `${ev.deaf.join(', ')} no longer hear it` : '',
    others.length && !standbyProbes.length ? 'standbys not asked (a refused connection decides)' : '',
    ev.pgpoolsDown.length ? `pgpool ${ev.pgpoolsDown.join(', ')} count it down` : '',
    input.trigger.source === 'pgpool' ? 'pgpool detached it' : '',
    taken.preempted ? `pre-empted ${taken.preempted.workflow} ${taken.preempted.execution}` : '',
  ].filter(Boolean);
  return { ...out, decision: 'failover', reason: `primary ${suspect} failed: ${why.join('; ')}` };
}

function isRefused(p: NodeProbe): boolean {
  return /ECONNREFUSED/.test(p.error ?? '');
}

/**
 * What the vantage points that answered say about the primary: `hearing` standbys still stream from
 * it (it lives), `deaf` standbys answer but do not (evidence of failure), `pgpoolsDown` pgpools that
 * answer and count it down. Confirmed: somebody answering saw it gone, and no standby still hears it.
 */
export function judge(
  primary: NodeProbe,
  standbys: readonly (readonly [string, NodeProbe])[],
  views: Record<string, string>,
  endpoint: string,
): { hearing: string[]; deaf: string[]; pgpoolsDown: string[]; confirmed: boolean } {
  const answering = standbys.filter(([, p]) => p.reachable);
  const hearing = answering
    .filter(([, p]) => p.walReceiver?.status === 'streaming' && p.walReceiver.sender === endpoint)
    .map(([n]) => n);
  const deaf = answering.map(([n]) => n).filter((n) => !hearing.includes(n));
  const pgpoolsDown = Object.entries(views)
    .filter(([, v]) => v === 'down')
    .map(([n]) => n);
  const witnesses = deaf.length + pgpoolsDown.length + (isRefused(primary) ? 1 : 0);
  return { hearing, deaf, pgpoolsDown, confirmed: hearing.length === 0 && witnesses > 0 };
}

function describeUnreachable(ps: readonly (readonly [string, NodeProbe])[]): string {
  return ps.map(([n, p]) => `${n} ${p.reachable ? 'answers' : 'unreachable'}`).join(', ') || 'none';
}

function describeViews(v: Record<string, string>): string {
  return (
    Object.entries(v)
      .map(([n, x]) => `${n} ${x}`)
      .join(', ') || 'not asked'
  );
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
