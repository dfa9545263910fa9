/**
 * The cluster's lease: one workflow acts on a cluster at a time (invariant 3). One implementation,
 * used by the failover and by every planned workflow (switchover, rejoin, maintenance, scale out/in).
 * It lives in the topology document and is written with its compare-and-set, so two executions can
 * never both believe they hold it.
 *
 * - A workflow takes the lease at its first step and renews it at every step that acts, so a lease
 *   whose holder died expires (PGWARDEN_LEASE_MS) and a step of an execution that lost it does nothing.
 * - A failover pre-empts planned work that does not move the primary (rejoin, scale, a maintenance
 *   working on a standby): a dead primary must never wait behind a rejoin. The pre-empted execution's
 *   next renewal fails, so it stops at its next step. A switchover is never pre-empted: it is moving
 *   the primary itself and has its own abort path.
 * - A nested execution (maintenance starts a switchover for its switch) takes the lease over from
 *   its parent, which waits meanwhile, and its release hands the lease back to the parent: the
 *   cluster is never free between the two, and nobody else can take it in between.
 * - Pause stops planned work between steps; a failover that has started acting is not stopped by a
 *   pause (stopping after the fence would leave the cluster without a writer).
 */
import { StepRefusal } from './handler';
import type { Deps } from './ports';
import { settings } from './settings';
import { withEvent, type Lease, type Topology } from './topology';
import { updateTopology } from './topology-update';

export type WorkflowKind = 'failover' | 'switchover' | 'rejoin' | 'maintenance' | 'scale-out' | 'scale-in';

/** Refusals are not retried (ASL Retry lists them with MaxAttempts 0) and end as "<Workflow>Refused". */
export const REFUSED = 'Refused';

/**
 * Workflows that move the primary themselves: a failover never pre-empts them. A maintenance is
 * pre-empted while it works on a standby, not while its nested switchover holds the lease.
 */
const NOT_PREEMPTIBLE: ReadonlySet<string> = new Set(['failover', 'switchover']);

/** The lease in force (held and not expired), if any. */
export function activeLease(t: Topology, now: Date): Lease | undefined {
  return t.lease && Date.parse(t.lease.expiresAt) > now.getTime() ? t.lease : undefined;
}

/** Why `execution` may not start acting now ('' = a trigger that has no execution yet), or undefined. */
export function blocker(t: Topology, execution: string, now: Date): string | undefined {
  if (t.paused) return `automation is paused (${t.pausedReason ?? 'no reason given'})`;
  const held = activeLease(t, now);
  if (held && held.execution !== execution)
    return `${held.workflow} ${held.execution} is already acting on the cluster`;
  return undefined;
}

/** Whether a failover may take the cluster from the lease's holder. */
export function preemptible(lease: Lease): boolean {
  return !NOT_PREEMPTIBLE.has(lease.workflow) && !lease.switching;
}

function leaseFor(cur: Topology, workflow: WorkflowKind, execution: string, now: Date): Lease {
  const mine = cur.lease?.execution === execution;
  return {
    workflow: mine ? cur.lease!.workflow : workflow,
    execution,
    since: mine ? cur.lease!.since : now.toISOString(),
    expiresAt: new Date(now.getTime() + settings().leaseMs).toISOString(),
    ...(mine && cur.lease!.switching ? { switching: cur.lease!.switching } : {}),
    ...(mine && cur.lease!.parent ? { parent: cur.lease!.parent } : {}),
  };
}

export interface TakeOptions {
  /** The primary the caller assessed: refused when the topology names another one by now. */
  primary?: string;
  /** Take the lease from a pre-emptible holder (a failover of a confirmed dead primary). */
  preempt?: boolean;
  /** A pause does not refuse (a failover's own checks decide about pause before they take it). */
  ignorePause?: boolean;
  /**
   * A nested execution: take the lease over from this execution, which started it and must hold it
   * now (refused otherwise); the release hands it back.
   */
  parent?: string;
}

export type TakeResult = { taken: true; topology: Topology; preempted?: Lease } | { taken: false; why: string };

/** Take the lease for `execution` (or keep it when it already holds it), compare-and-set. */
export async function takeLease(
  deps: Pick<Deps, 'topology' | 'cluster' | 'now'>,
  workflow: WorkflowKind,
  execution: string,
  opts: TakeOptions = {},
): Promise<TakeResult> {
  let why: string | undefined;
  let preempted: Lease | undefined;
  let parent: Lease['parent'];
  const t = await updateTopology(deps, (cur) => {
    const now = deps.now();
    why = undefined;
    preempted = undefined;
    parent = undefined;
    if (cur.paused && !opts.ignorePause) why = `automation is paused (${cur.pausedReason ?? 'no reason given'})`;
    else if (opts.primary !== undefined && cur.primary !== opts.primary) why = `the primary changed to ${cur.primary}`;
    else {
      const held = activeLease(cur, now);
      if (opts.parent !== undefined && held?.execution !== execution) {
        if (held?.execution !== opts.parent)
          why = held
            ? `${held.workflow} ${held.execution} is acting on the cluster, not the parent execution ${opts.parent}`
            : `the parent execution ${opts.parent} no longer holds the cluster's lease`;
        else parent = { workflow: held.workflow, execution: held.execution, since: held.since };
      } else if (held && held.execution !== execution) {
        if (opts.preempt && preemptible(held)) preempted = held;
        else why = `${held.workflow} ${held.execution} is already acting on the cluster`;
      }
    }
    if (why) return undefined;
    const next = preempted
      ? withEvent(
          cur,
          'lease-preempted',
          { by: execution, workflow, preempted: preempted.execution, preemptedWorkflow: preempted.workflow },
          now,
        )
      : cur;
    const lease = leaseFor(cur, workflow, execution, now);
    return { ...next, lease: parent ? { ...lease, parent } : lease };
  });
  if (why) return { taken: false, why };
  return { taken: true, topology: t, preempted };
}

export interface RenewOptions {
  /** The primary this execution acts around: it refuses when the topology names another one. */
  primary?: string;
  /** Planned work stops between steps when paused; a failover that already acts does not. */
  ignorePause?: boolean;
}

/**
 * Renew the lease `execution` holds, or fail (StepRefusal, not retried) when it no longer holds it
 * (pre-empted, expired and taken, released by an abort), when automation was paused (planned work)
 * or when the world changed under it (another primary). Every step that acts calls this first.
 */
export async function renewLease(
  deps: Pick<Deps, 'topology' | 'cluster' | 'now'>,
  workflow: WorkflowKind,
  execution: string,
  opts: RenewOptions = {},
): Promise<Topology> {
  let why: string | undefined;
  const t = await updateTopology(deps, (cur) => {
    const now = deps.now();
    why = undefined;
    if (cur.lease?.execution !== execution) {
      const other = activeLease(cur, now);
      why = other
        ? `execution ${execution} no longer holds the cluster's lease (${other.workflow} ${other.execution} does)`
        : `execution ${execution} no longer holds the cluster's lease (aborted or expired)`;
    } else if (cur.paused && !opts.ignorePause) why = `automation is paused (${cur.pausedReason ?? 'no reason given'})`;
    else if (opts.primary !== undefined && cur.primary !== opts.primary)
      why = `the primary changed to ${cur.primary} (this execution acts around ${opts.primary})`;
    if (why) return undefined;
    return { ...cur, lease: leaseFor(cur, workflow, execution, now) };
  });
  if (why) throw new StepRefusal(REFUSED, `${workflow} stopped: ${why}`);
  return t;
}

/**
 * Take ('take': the trigger and the first step) or renew the lease for a planned workflow. Refused
 * (StepRefusal) when automation is paused or another workflow holds the lease.
 */
export async function holdLease(
  deps: Deps,
  workflow: Exclude<WorkflowKind, 'failover'>,
  execution: string,
  mode: 'take' | 'renew' = 'renew',
  parent?: string,
): Promise<Topology> {
  if (mode === 'renew') return renewLease(deps, workflow, execution);
  const r = await takeLease(deps, workflow, execution, parent === undefined ? {} : { parent });
  if (!r.taken) throw new StepRefusal(REFUSED, `${workflow} refused: ${r.why}`);
  return r.topology;
}

/**
 * Record the outcome in the topology history and release the lease if this execution holds it (back
 * to the parent execution when it was taken over from one).
 */
export async function releaseLease(
  deps: Pick<Deps, 'topology' | 'cluster' | 'now'>,
  execution: string,
  kind: string,
  detail: Record<string, unknown>,
  change?: (t: Topology) => void,
): Promise<Topology> {
  return updateTopology(deps, (cur) => {
    const next = withEvent(cur, kind, { execution, ...detail }, deps.now());
    const held = next.lease;
    if (held?.execution === execution) {
      if (held.parent)
        next.lease = {
          ...held.parent,
          expiresAt: new Date(deps.now().getTime() + settings().leaseMs).toISOString(),
        };
      else delete next.lease;
    }
    change?.(next);
    return next;
  });
}
