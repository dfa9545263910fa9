/** The cluster's topology document: SSM Parameter Store in AWS, a JSON file in the lab. */

export type NodeRole = 'primary' | 'standby' | 'fenced' | 'removed';

export interface NodeSpec {
  name: string;
  host: string;
  port: number;
  /** pgpool backend id of this node (same id in every pgpool). */
  backendId: number;
  role: NodeRole;
  /** EC2 instance id in AWS; the lab uses `lab:<name>`. */
  instanceId: string;
  /** Higher wins an election between candidates with the same LSN. */
  priority?: number;
  /** Never promote this node (e.g. a reporting replica). */
  noFailover?: boolean;
  /** Set while the node is under planned maintenance: automatic failover ignores it. */
  maintenance?: boolean;
  /**
   * Left behind by a failover (unreachable at its election, or already on an older timeline): it
   * follows nothing current, is never elected nor counted as proof, and is rejoined (rewound onto the
   * current timeline) as soon as it is seen running. Cleared when a rejoin attaches it again.
   */
  stale?: boolean;
}

export interface PgpoolSpec {
  name: string;
  host: string;
  port: number;
  pcpPort: number;
  /** EC2 instance id of the pgpool host in AWS; `lab:<name>` in the lab. */
  instanceId: string;
}

export interface TopologyEvent {
  at: string;
  kind: string;
  detail: Record<string, unknown>;
}

export interface Topology {
  cluster: string;
  /** Incremented on every write; writes are compare-and-set on it. */
  version: number;
  primary: string;
  timeline: number;
  paused: boolean;
  pausedReason?: string;
  /** Synchronous quorum: ANY <syncQuorum> over the standbys. 0 = asynchronous. */
  syncQuorum: number;
  nodes: NodeSpec[];
  pgpools: PgpoolSpec[];
  /**
   * Per standby, the primary's current LSN at the first probe that saw it NOT streaming.
   * Used to prove that a surviving standby holds every acknowledged commit when another one is gone.
   */
  absentSince?: Record<string, { lsn: string; at: string }>;
  /**
   * Incremented each time a failover execution ends (acted, decided not to, refused or failed): part
   * of the execution name, so that sensors reporting one failure collapse into one execution, while a
   * failure after a finished one (e.g. after a false alarm or a pause) gets a new execution.
   */
  failoverEpoch?: number;
  /**
   * The synchronous replication actually in force on the primary (its synchronous_standby_names),
   * written by every step that changes it, after the change. The election proves zero loss against
   * this record, not against the configured syncQuorum: a quorum that was lowered (a standby
   * unreachable at a failover) must not count a standby outside it as proof. Absent on clusters
   * created before the record existed (the election then uses syncQuorum over the standbys).
   */
  sync?: SyncRecord;
  /** Held by the workflow acting on the cluster (one workflow per cluster per timeline). */
  lease?: Lease;
  history: TopologyEvent[];
}

export interface SyncRecord {
  /** The primary whose synchronous_standby_names this is. */
  primary: string;
  /** ANY <quorum> of `standbys`; 0 = asynchronous (degraded: no commit waits for a standby). */
  quorum: number;
  standbys: string[];
  /**
   * The primary's WAL position when this setting took effect. A commit acknowledged before it was
   * held under the previous setting, so a candidate must have received WAL up to here as well.
   */
  sinceLsn: string;
  /** What the cluster is configured for (topology syncQuorum) when this is less: degraded. */
  configured: number;
  at: string;
  by: string;
}

/** Parse synchronous_standby_names as pgwarden writes it: '' or 'ANY q (a, b, ...)'. */
export function parseSyncNames(s: string): { quorum: number; standbys: string[] } {
  const v = s.trim();
  if (!v) return { quorum: 0, standbys: [] };
  const m = /^ANY\s+(\d+)\s*\((.*)\)$/i.exec(v);
  if (!m) throw new Error(`synchronous_standby_names "${s}" is not of the form ANY q (standbys)`);
  const standbys = m[2]
    .split(',')
    .map((x) => x.trim().replace(/^"(.*)"$/, '$1'))
    .filter(Boolean);
  return { quorum: Math.min(Number(m[1]), standbys.length), standbys };
}

/** The record of `names` put in force on `primary` at `lsn` (see Topology.sync). */
export function syncRecord(t: Topology, primary: string, names: string, lsn: string, by: string, at: Date): SyncRecord {
  const { quorum, standbys } = parseSyncNames(names);
  return { primary, quorum, standbys, sinceLsn: lsn, configured: t.syncQuorum, at: at.toISOString(), by };
}

/** Why the synchronous replication in force is weaker than configured, or undefined. */
export function syncDegraded(t: Topology): string | undefined {
  const r = t.sync;
  if (!r || t.syncQuorum === 0) return undefined;
  if (r.primary !== t.primary) return `no synchronous setting recorded for primary ${t.primary}`;
  if (r.quorum < t.syncQuorum)
    return r.quorum === 0
      ? `asynchronous: no standby was available when ${r.by} set it (configured ANY ${t.syncQuorum})`
      : `ANY ${r.quorum} in force, configured ANY ${t.syncQuorum}`;
  return undefined;
}

export interface Lease {
  workflow: string;
  execution: string;
  since: string;
  expiresAt: string;
  /**
   * Set by a switchover's (or a maintenance's) switch step from just before it stops the primary
   * until the promotion is recorded: the primary is down on purpose, and a failover must not
   * pre-empt the workflow that is moving it.
   */
  switching?: { from: string; to: string; since: string };
  /**
   * A nested execution (maintenance's switchover) holds the lease for the execution that started
   * it: its release hands the lease back to that parent instead of freeing the cluster.
   */
  parent?: { workflow: string; execution: string; since: string };
}

// Parameter Store holds at most 8 KB per parameter (Advanced tier): keep the history short; the full record
// of every action is in the workflow executions and the notifications.
export const HISTORY_LIMIT = 40;

export function nodeByName(t: Topology, name: string): NodeSpec {
  const n = t.nodes.find((x) => x.name === name);
  if (!n)
    throw new UnknownNodeError(
      name,
      t.nodes.map((x) => x.name),
    );
  return n;
}

export class UnknownNodeError extends Error {
  constructor(
    public readonly node: string,
    known: string[],
  ) {
    super(`unknown node "${node}" (known: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownNodeError';
  }
}

export function withEvent(t: Topology, kind: string, detail: Record<string, unknown>, at = new Date()): Topology {
  const history = [...t.history, { at: at.toISOString(), kind, detail }].slice(-HISTORY_LIMIT);
  return { ...t, history };
}
