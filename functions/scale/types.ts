/** The scale-out and scale-in workflows' state documents. */
import type { PlannedInput } from '../planned/common';

/** A provisioned instance for the new standby (AWS: launched from the node launch template; lab: Lab.addNode). */
export interface NewNode {
  name: string;
  host: string;
  port: number;
  backendId: number;
  instanceId: string;
}

export interface ScaleOutInput extends PlannedInput {
  node: NewNode;
}

export interface ScaleInInput extends PlannedInput {
  /** The standby to remove; absent = the most recently added standby. */
  node?: string;
  /** How long the drain waits for client sessions that may read from the node (default 60 s). */
  drainSeconds?: number;
  precheck?: { node: string; remaining: string[] };
  drain?: { node: string; drained: boolean; waitedMs: number; sessionsAtStart: number; sessionsLeft: OpenSession[] };
}

/** A client session open in a pgpool: one pgpool child with a connected client. */
export interface OpenSession {
  pgpool: string;
  /** The pgpool child's pid. */
  pid: number;
  /** pid, client connection count and connection time: one client session of that child. */
  key: string;
  user: string;
  database: string;
  since: string;
}
