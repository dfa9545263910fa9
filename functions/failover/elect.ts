/**
 * Elect the standby to promote: the highest received LSN among healthy, eligible standbys, then
 * priority, then name. Under quorum commit (ANY q of n standbys) an acknowledged commit is on at
 * least q standbys, so a candidate provably holds every acknowledged commit when at least n - q + 1
 * standbys are accounted for: reachable (and not ahead of it), or known to have stopped streaming
 * at an LSN the candidate has reached. Otherwise the workflow refuses to promote (invariant 2).
 */
import { compareLsn, probeNode, type NodeProbe } from '../lib/db';
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import type { NodeSpec, Topology } from '../lib/topology';
import { requireState, type ElectResult, type FailoverState } from './types';

export async function step(state: FailoverState, deps: Deps): Promise<ElectResult> {
  const assess = requireState(state.assess, 'assess');
  const t = await deps.topology.get(state.cluster);
  const creds = await deps.secrets.admin();
  const members = t.nodes.filter((n) => n.name !== assess.primary && n.role === 'standby');
  const probes = await Promise.all(
    members.map(async (n) => [n, await probeNode(n, creds, settings().probeTimeoutMs)] as const),
  );
  return elect(t, probes);
}

export function elect(t: Topology, probes: (readonly [NodeSpec, NodeProbe])[]): ElectResult {
  const standbys: ElectResult['standbys'] = {};
  const reachable: { node: NodeSpec; lsn: string }[] = [];
  for (const [n, p] of probes) {
    const lsn = p.receiveLsn ?? p.replayLsn;
    const ok = p.reachable && p.inRecovery === true && !!lsn;
    const why = !p.reachable
      ? `unreachable: ${p.error}`
      : p.inRecovery === false
        ? 'not in recovery (already promoted?)'
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
  const byLsn = (a: { node: NodeSpec; lsn: string }, b: { node: NodeSpec; lsn: string }) =>
    compareLsn(b.lsn, a.lsn) ||
    (b.node.priority ?? 0) - (a.node.priority ?? 0) ||
    a.node.name.localeCompare(b.node.name);
  const eligible = reachable.filter((r) => standbys[r.node.name].eligible).sort(byLsn);
  if (eligible.length === 0) {
    return { candidate: null, reason: 'no eligible standby is reachable', standbys };
  }
  const best = eligible[0];
  const highest = [...reachable].sort(byLsn)[0];
  if (compareLsn(highest.lsn, best.lsn) > 0) {
    return {
      candidate: null,
      reason: `${highest.node.name} (not eligible: ${standbys[highest.node.name].why}) holds WAL up to ${highest.lsn}, ahead of every eligible standby (${best.node.name} at ${best.lsn}): promoting would lose commits`,
      standbys,
    };
  }
  const n = probes.length;
  const q = t.syncQuorum;
  if (q === 0) {
    return {
      candidate: best.node.name,
      lsn: best.lsn,
      reason: `asynchronous replication: ${best.node.name} has the highest LSN; no proof of zero loss is possible`,
      standbys,
    };
  }
  const accounted = reachable.map((r) => r.node.name);
  const unreachable = probes.map(([m]) => m.name).filter((m) => !accounted.includes(m));
  const covered = unreachable.filter((m) => {
    const a = t.absentSince?.[m];
    return a !== undefined && compareLsn(best.lsn, a.lsn) >= 0;
  });
  const need = n - q + 1;
  if (accounted.length + covered.length < need) {
    return {
      candidate: null,
      reason: `cannot prove that any standby holds every acknowledged commit: quorum ANY ${q} of ${n} needs ${need} standbys accounted for, have ${accounted.length + covered.length} (unreachable: ${unreachable.join(', ') || 'none'})`,
      standbys,
    };
  }
  const proof = [
    `ANY ${q} of ${n}: ${accounted.join(', ')} reachable`,
    covered.length ? `${covered.join(', ')} stopped streaming before ${best.lsn}` : '',
    `${best.node.name} has the highest received LSN ${best.lsn}`,
  ].filter(Boolean);
  return { candidate: best.node.name, lsn: best.lsn, reason: proof.join('; '), standbys };
}

export const handler = lambda(step);
