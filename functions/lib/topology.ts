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
  /** Held by the workflow acting on the cluster (one workflow per cluster per timeline). */
  lease?: Lease;
  history: TopologyEvent[];
}

export interface Lease {
  workflow: string;
  execution: string;
  since: string;
  expiresAt: string;
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
