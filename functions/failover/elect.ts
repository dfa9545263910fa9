/**
 * Elect the standby to promote: the highest received LSN among healthy, eligible standbys on the
 * cluster's current timeline, then priority, then name. Under quorum commit (ANY q of the n standbys
 * of the synchronous set in force, as recorded in the topology) an acknowledged commit is on at least
 * q of them, so a candidate provably holds every acknowledged commit when at least n - q + 1 members
 * are accounted for: reachable on the current timeline (and not ahead of it), or known to have
 * stopped streaming at an LSN the candidate has reached. Otherwise the workflow refuses to promote
 * (invariant 2). A standby on an older timeline is stale: never a candidate, never proof.
 */
import { compareLsn, probeNode, type NodeProbe } from '../lib/db';
import { lambda } from '../lib/handler';
import { renewLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { SessionCache, warmStandbySessions } from '../lib/session-cache';
import { settings } from '../lib/settings';
import type { NodeSpec, Topology } from '../lib/topology';
import { requireState, type ElectResult, type FailoverState } from './types';

/** Sessions to the standbys, opened by the warm-up while the old primary is fenced. */
const sessions = new SessionCache();

/** The warm-up (WarmElect): a session to every standby the election will probe. */
export const warm = (deps: Deps) => warmStandbySessions(sessions, deps);

export async function step(state: FailoverState, deps: Deps): Promise<ElectResult> {
  const assess = requireState(state.assess, 'assess');
  const t = await renewLease(deps, 'failover', state.executionName, { primary: assess.primary, ignorePause: true });
  const creds = await deps.secrets.admin();
  const members = t.nodes.filter((n) => n.name !== assess.primary && n.role === 'standby');
  const taken = sessions.taken;
  try {
    const probes = await Promise.all(
      members.map(async (n) => [n, await probeNode(n, creds, settings().probeTimeoutMs, sessions.run)] as const),
    );
    return { ...elect(t, probes), warmSessions: sessions.taken - taken };
  } finally {
    sessions.closeAll();
  }
}

export function elect(t: Topology, probes: (readonly [NodeSpec, NodeProbe])[]): ElectResult {
  const standbys: ElectResult['standbys'] = {};
  const reachable: { node: NodeSpec; lsn: string }[] = [];
  const stale: string[] = [];
  // Another node out of recovery: a second primary may exist. Promoting a third would make it worse.
  const writable = probes.filter(([, p]) => p.reachable && p.inRecovery === false).map(([n]) => n.name);
  for (const [n, p] of probes) {
    const lsn = p.receiveLsn ?? p.replayLsn;
    // A standby left on an older timeline (it did not follow an earlier promotion) holds WAL of a
    // history the cluster abandoned: its LSN proves nothing and it must never be promoted.
    const behind = p.reachable && p.inRecovery === true && p.timeline !== undefined && p.timeline < t.timeline;
    if (behind) stale.push(n.name);
    const ok = p.reachable && p.inRecovery === true && !!lsn && !behind;
    const why = !p.reachable
      ? `unreachable: ${p.error}`
      : p.inRecovery === false
        ? 'not in recovery (already promoted?)'
        : behind
          ? `stale: on timeline ${p.timeline}, the cluster is on ${t.timeline}`
          : !lsn
            ? 'no WAL position'
            : n.noFailover
              ? 'tagged no-failover'
              : n.maintenance
                ? 'under maintenance'
                : undefined;
    standbys[n.name] = { lsn, reachable: p.reachable, eligible: ok && !n.noFailover && !n.maintenance, why };
    if (ok) reachable.push({ node: n, lsn: lsn! });
  }
  const staleOut = stale.length ? { stale } : {};
  if (writable.length) {
    return {
      candidate: null,
      reason: `${writable.join(', ')} ${writable.length > 1 ? 'are' : 'is'} out of recovery: another primary may exist, no promotion`,
      standbys,
      ...staleOut,
    };
  }
  const byLsn = (a: { node: NodeSpec; lsn: string }, b: { node: NodeSpec; lsn: string }) =>
    compareLsn(b.lsn, a.lsn) ||
    (b.node.priority ?? 0) - (a.node.priority ?? 0) ||
    a.node.name.localeCompare(b.node.name);
  const eligible = reachable.filter((r) => standbys[r.node.name].eligible).sort(byLsn);
  if (eligible.length === 0) {
    return { candidate: null, reason: 'no eligible standby is reachable', standbys, ...staleOut };
  }
  const best = eligible[0];
  const highest = [...reachable].sort(byLsn)[0];
  if (compareLsn(highest.lsn, best.lsn) > 0) {
    return {
      candidate: null,
      reason: `${highest.node.name} (not eligible: ${standbys[highest.node.name].why}) holds WAL up to ${highest.lsn}, ahead of every eligible standby (${best.node.name} at ${best.lsn}): promoting would lose commits`,
      standbys,
      ...staleOut,
    };
  }
  // The synchronous set in force on the failed primary, as recorded when it was set; without a record
  // (a cluster from before it existed), the configured quorum over the standbys.
  const rec = t.sync && t.sync.primary === t.primary ? t.sync : undefined;
  const set = rec ? rec.standbys : probes.map(([m]) => m.name);
  const q = rec ? rec.quorum : t.syncQuorum;
  if (q === 0 && rec && t.syncQuorum > 0) {
    // Configured synchronous, but the primary ran asynchronous: it acknowledged commits no standby
    // may have. No proof is possible, and in synchronous mode no proof means no promotion.
    return {
      candidate: null,
      reason: `the failed primary ran asynchronous (set by ${rec.by} at ${rec.at}, configured ANY ${t.syncQuorum}): commits were acknowledged without a standby, no candidate can be proven to hold them`,
      standbys,
      ...staleOut,
    };
  }
  if (q === 0) {
    return {
      candidate: best.node.name,
      lsn: best.lsn,
      reason: `asynchronous replication: ${best.node.name} has the highest LSN; no proof of zero loss is possible`,
      standbys,
      ...staleOut,
    };
  }
  if (rec && compareLsn(best.lsn, rec.sinceLsn) < 0) {
    return {
      candidate: null,
      reason: `${best.node.name} has received WAL up to ${best.lsn} only, before ${rec.sinceLsn} where the synchronous setting in force (ANY ${q} of ${set.join(', ')}) took effect: commits acknowledged before it may be missing`,
      standbys,
      ...staleOut,
    };
  }
  const n = set.length;
  const accounted = reachable.map((r) => r.node.name).filter((m) => set.includes(m));
  const unaccounted = set.filter((m) => !accounted.includes(m));
  const covered = unaccounted.filter((m) => {
    const a = t.absentSince?.[m];
    return a !== undefined && compareLsn(best.lsn, a.lsn) >= 0;
  });
  const need = n - q + 1;
  const what = `${rec ? 'synchronous set in force' : 'quorum'} ANY ${q} of ${n} (${set.join(', ')})`;
  if (accounted.length + covered.length < need) {
    return {
      candidate: null,
      reason: `cannot prove that any standby holds every acknowledged commit: ${what} needs ${need} standbys accounted for, have ${accounted.length + covered.length} (not accounted: ${unaccounted.filter((m) => !covered.includes(m)).join(', ') || 'none'})`,
      standbys,
      ...staleOut,
    };
  }
  const proof = [
    `${what}: ${accounted.join(', ') || 'none'} reachable`,
    covered.length ? `${covered.join(', ')} stopped streaming before ${best.lsn}` : '',
    `${best.node.name} has the highest received LSN ${best.lsn}`,
  ].filter(Boolean);
  return { candidate: best.node.name, lsn: best.lsn, reason: proof.join('; '), standbys, ...staleOut };
}

export const handler = lambda(step, warm);
