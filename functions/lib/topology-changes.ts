/**
 * The changes the workflows make to the topology, as pure functions: each takes the topology and
 * returns a changed copy, or undefined when there is nothing to change (updateTopology then writes
 * nothing). Steps apply them with `updateTopology(deps, (t) => fence(t, node))`; unit-tested in
 * test/unit/topology-changes.test.ts.
 */
import { syncRecord, withEvent, type Topology } from './topology';

const copy = (t: Topology): Topology => structuredClone(t);

/** The node can no longer write: role `fenced` (a failover's FenceOldPrimary). */
export function fence(t: Topology, node: string): Topology | undefined {
  const n = t.nodes.find((x) => x.name === node);
  if (!n || n.role === 'fenced') return undefined;
  const next = copy(t);
  next.nodes.find((x) => x.name === node)!.role = 'fenced';
  return next;
}

/** Mark (or unmark) a node for planned work: automatic failover ignores a marked standby. */
export function markMaintenance(t: Topology, node: string, on = true): Topology | undefined {
  const n = t.nodes.find((x) => x.name === node);
  if (!n || !!n.maintenance === on) return undefined;
  const next = copy(t);
  const m = next.nodes.find((x) => x.name === node)!;
  if (on) m.maintenance = true;
  else delete m.maintenance;
  return next;
}

/** No node marked for maintenance any more (an abort restoring the cluster). */
export function clearMaintenanceMarks(t: Topology): Topology | undefined {
  if (!t.nodes.some((n) => n.maintenance)) return undefined;
  const next = copy(t);
  for (const n of next.nodes) delete n.maintenance;
  return next;
}

/** A rewound (or re-copied) node is a standby again, still marked: not attached in pgpool yet. */
export function rewound(t: Topology, node: string): Topology | undefined {
  const n = t.nodes.find((x) => x.name === node);
  if (!n || n.role === 'standby') return undefined;
  const next = copy(t);
  const m = next.nodes.find((x) => x.name === node)!;
  m.role = 'standby';
  m.maintenance = true;
  return next;
}

/** A rejoined standby is attached: in service, neither marked nor stale nor counted absent. */
export function attached(t: Topology, node: string): Topology | undefined {
  if (!t.nodes.some((x) => x.name === node)) return undefined;
  const next = copy(t);
  const m = next.nodes.find((x) => x.name === node)!;
  m.role = 'standby';
  delete m.maintenance;
  delete m.stale;
  if (next.absentSince) delete next.absentSince[node];
  return next;
}

/** A switch step is about to stop `from` on purpose (lib/lease.ts: a failover must not pre-empt it). */
export function markSwitching(
  t: Topology,
  execution: string,
  from: string,
  to: string,
  at: Date,
): Topology | undefined {
  if (t.lease?.execution !== execution || t.lease.switching) return undefined;
  const next = copy(t);
  next.lease!.switching = { from, to, since: at.toISOString() };
  return next;
}

export interface Promotion {
  /** The promoted node and its new timeline. */
  node: string;
  timeline: number;
  /** The synchronous_standby_names it runs with and the LSN that took effect at. */
  sync: string;
  lsn: string;
  execution: string;
  at: Date;
}

/**
 * A failover's promotion: `node` is the primary on `timeline`, with the synchronous set it runs
 * with; `stale` standbys (unreachable, or behind the election) are marked so until they rejoin.
 */
export function promoted(
  t: Topology,
  p: Promotion & { previous: string; stale: (n: string) => boolean },
): Topology | undefined {
  if (t.primary === p.node && t.timeline === p.timeline) return undefined;
  const next = withEvent(
    { ...copy(t), primary: p.node, timeline: p.timeline },
    'promoted',
    {
      node: p.node,
      timeline: p.timeline,
      previous: p.previous,
      execution: p.execution,
      synchronousStandbyNames: p.sync,
    },
    p.at,
  );
  for (const n of next.nodes) {
    if (n.name === p.node) {
      n.role = 'primary';
      delete n.stale;
    } else if (n.role === 'standby' && n.name !== p.previous && p.stale(n.name)) n.stale = true;
  }
  // Every commit before the promotion is on the new primary (the election proved it); every commit
  // after it waits for the quorum of `sync`.
  next.sync = syncRecord(t, p.node, p.sync, p.lsn, p.execution, p.at);
  if (next.absentSince) delete next.absentSince[p.node];
  return next;
}

/**
 * A switchover's switch: `node` is the primary on `timeline`, `from` a standby again (it restarts as
 * one in the next step), the switch mark cleared.
 */
export function switchedOver(t: Topology, p: Promotion & { from: string; lastLsn: string }): Topology {
  const next = withEvent(
    { ...copy(t), primary: p.node, timeline: p.timeline },
    'switched-over',
    { from: p.from, to: p.node, timeline: p.timeline, lastLsn: p.lastLsn, execution: p.execution },
    p.at,
  );
  for (const n of next.nodes) {
    if (n.name === p.node) n.role = 'primary';
    if (n.name === p.from) n.role = 'standby';
  }
  next.sync = syncRecord(t, p.node, p.sync, p.lsn, p.execution, p.at);
  if (next.lease?.execution === p.execution) delete next.lease.switching;
  return next;
}

/** Scale in: the standby leaves service for good (role `removed`, its instance a spare). */
export function removeStandby(t: Topology, node: string, execution: string, at: Date): Topology {
  const next = withEvent(copy(t), 'standby-removed', { node, execution }, at);
  const n = next.nodes.find((x) => x.name === node);
  if (n) {
    n.role = 'removed';
    delete n.maintenance;
  }
  return next;
}
