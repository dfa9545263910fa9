/**
 * Failback of a standby that a pgpool detached although it kept streaming from the primary.
 *
 * pgpool detaches a standby on one failed session connection (failover_on_backend_error, which the
 * fast failover path needs for the primary) or on a health check that timed out under load, and never
 * attaches it again by itself (auto_failback is off on purpose: pgwarden decides what serves). Left
 * alone, the cluster silently serves reads from fewer standbys and every planned workflow's precheck
 * refuses. After a probe round, this starts the rejoin workflow for such a standby: rejoin sees that
 * it already streams (no rewind, no restart), waits until it has caught up, attaches it in every
 * pgpool, restores the quorum and records it — with the same lease, pause and history as any other
 * workflow. A standby that is down or not streaming is not touched here (the EC2 running event or an
 * operator's `pgwarden rejoin` handles it).
 */
import { pgpoolBackends, type PoolNode } from '../lib/db';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { attachIn } from '../lib/pgpool-route';
import { withEvent, type Topology } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { blocker } from '../planned/common';
import { RefusedError, startPlanned } from '../triggers/planned';

export const REATTACH_EVENT = 'standby-reattach';

export interface HealOutcome {
  node: string;
  pgpools: string[];
  action: 'started' | 'skipped';
  reason: string;
  executionName?: string;
}

export const PRIMARY_REATTACH_EVENT = 'primary-reattach';

/**
 * The primary, writable (the caller's probe round says so), but down in some pgpool: one network
 * error or a slow health check is enough for pgpool to detach it, and it then routes writes nowhere.
 * The false alarm that pgpool's report raises attaches it again; when that pgpool could not reach it
 * at the time (a partition between them), this does once the path is back: pgpool-attach.sh attaches
 * only a backend it can reach. After an attach that took, the next one in that pgpool waits healBackoffMs.
 */
async function reattachPrimary(
  deps: Deps,
  t: Topology,
  views: { pgpool: string; nodes: PoolNode[] | undefined }[],
): Promise<HealOutcome[]> {
  const primary = t.nodes.find((n) => n.name === t.primary);
  if (!primary) return [];
  const out: HealOutcome[] = [];
  for (const v of views) {
    if (v.nodes?.find((x) => x.id === primary.backendId)?.status !== 'down') continue;
    const key = `${v.pgpool}:${primary.name}`;
    // Backoff only after an attach that took: one pgpool detaching the primary again and again must
    // not make it flap. An attach refused as unreachable costs one TCP probe: tried every round.
    const last = lastPrimaryAttempt.get(key) ?? -Infinity;
    if (deps.now().getTime() - last < settings().healBackoffMs) continue;
    const p = t.pgpools.find((x) => x.name === v.pgpool)!;
    const r = await attachIn(deps, p, primary, 30_000);
    const attached = r.attached;
    if (attached) lastPrimaryAttempt.set(key, deps.now().getTime());
    const reason = attached
      ? `pgpool ${v.pgpool} had detached the writable primary ${primary.name}: attached again`
      : `pgpool ${v.pgpool} counts the writable primary ${primary.name} down: ${r.why || 'not attached'}`;
    if (attached)
      await updateTopology(deps, (cur) =>
        withEvent(cur, PRIMARY_REATTACH_EVENT, { node: primary.name, pgpool: v.pgpool }, deps.now()),
      );
    deps.log(`heal: ${reason}`);
    out.push({ node: primary.name, pgpools: [v.pgpool], action: attached ? 'started' : 'skipped', reason });
  }
  return out;
}

/** Per pgpool and primary, when the prober last tried to attach it (in this process). */
const lastPrimaryAttempt = new Map<string, number>();

/**
 * One check: every pgpool's view against the standbys streaming from the primary (from the probe
 * round). At most one rejoin is started (a workflow holds the cluster's lease); the others wait for
 * the next round.
 */
export async function healDetachedStandbys(deps: Deps, streaming: readonly string[]): Promise<HealOutcome[]> {
  const t = await deps.topology.get(deps.cluster);
  const why = blocker(t, '', deps.now());
  if (why) return [];
  const s = settings();
  const creds = await deps.secrets.pgpool();
  const views = await Promise.all(
    t.pgpools.map(async (p) => ({
      pgpool: p.name,
      nodes: await pgpoolBackends(p, creds, s.probeTimeoutMs * 2).catch(() => undefined as PoolNode[] | undefined),
    })),
  );
  const out: HealOutcome[] = await reattachPrimary(deps, t, views);
  for (const n of t.nodes) {
    if (n.role !== 'standby' || n.maintenance || n.name === t.primary) continue;
    const pgpools = views.filter((v) => v.nodes?.find((x) => x.id === n.backendId)?.status === 'down');
    if (!pgpools.length) continue;
    const names = pgpools.map((v) => v.pgpool);
    if (!streaming.includes(n.name)) continue;
    const last = [...t.history].reverse().find((e) => e.kind === REATTACH_EVENT && e.detail.node === n.name);
    const sinceMs = last ? deps.now().getTime() - Date.parse(last.at) : Infinity;
    if (sinceMs < s.healBackoffMs) {
      out.push({
        node: n.name,
        pgpools: names,
        action: 'skipped',
        reason: `a re-attach of ${n.name} started ${Math.round(sinceMs / 1000)} s ago (${String(last!.detail.execution)}); next attempt after ${s.healBackoffMs / 1000} s`,
      });
      continue;
    }
    if (out.some((o) => o.action === 'started')) continue;
    const reason = `pgpool ${names.join(', ')} detached ${n.name} although it streams from ${t.primary}: re-attach it`;
    try {
      const r = await startPlanned(deps, 'rejoin', [n.name], { reason, node: n.name, trigger: 'heal' });
      await updateTopology(deps, (cur) =>
        withEvent(cur, REATTACH_EVENT, { node: n.name, pgpools: names, execution: r.executionName }, deps.now()),
      );
      deps.log('heal: rejoin started for a detached streaming standby', { node: n.name, pgpools: names });
      out.push({ node: n.name, pgpools: names, action: 'started', reason, executionName: r.executionName });
    } catch (e) {
      // Another workflow took the cluster meanwhile: the next round looks again.
      if (!(e instanceof RefusedError)) throw e;
      out.push({ node: n.name, pgpools: names, action: 'skipped', reason: e.message });
    }
  }
  return out;
}

/**
 * Heal checks beside the probe rounds, not inside them: a check waits up to twice the probe timeout
 * for each pgpool's PCP, which does not answer while that pgpool fails over, and a round that waited
 * for it published the dead primary's datapoint seconds late (seen in the lab: 2.1 s from the kill to
 * the alarm, with a probe every 0.25 s). One check at a time: a round that finds one running starts none.
 */
export class BackgroundHeal {
  private running?: Promise<void>;

  /** Starts a check unless one runs; false when one does. */
  start(
    deps: Deps,
    streaming: readonly string[],
    onOutcomes: (o: HealOutcome[]) => void,
    onError: (e: Error) => void,
  ): boolean {
    if (this.running) return false;
    this.running = healDetachedStandbys(deps, streaming)
      .then(onOutcomes, onError)
      .finally(() => {
        this.running = undefined;
      });
    return true;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves when no check runs (a Lambda returns only then: its process is frozen after). */
  async settled(): Promise<void> {
    await this.running;
  }
}
