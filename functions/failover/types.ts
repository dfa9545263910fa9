/** The failover workflow's state document: the trigger's input plus one result per step. */
import type { NodeProbe } from '../lib/db';

/** 'prober': a primary still unwritable once no workflow holds the cluster (functions/probe/rearm.ts). */
export type TriggerSource = 'pgpool' | 'alarm' | 'ec2' | 'operator' | 'prober';

export interface FailoverInput {
  cluster: string;
  executionName: string;
  trigger: {
    source: TriggerSource;
    reason: string;
    /** The node the sensor saw failing; absent = the primary of record. */
    suspect?: string;
    at: string;
    detail?: Record<string, unknown>;
  };
}

export type AssessDecision =
  | 'failover'
  | 'false-alarm'
  | 'paused'
  | 'standby-failure'
  | 'maintenance'
  | 'duplicate'
  | 'inconclusive'
  | 'already-handled';

export interface AssessResult {
  decision: AssessDecision;
  reason: string;
  primary: string;
  suspect: string;
  timeline: number;
  probes: Record<string, NodeProbe>;
  pgpoolViews: Record<string, string>;
}

export interface FenceResult {
  node: string;
  method: 'fence-script' | 'instance-stop';
  pgpools: Record<string, string>;
}

export interface ElectResult {
  candidate: string | null;
  lsn?: string;
  reason: string;
  standbys: Record<string, { lsn?: string; reachable: boolean; eligible: boolean; why?: string }>;
  /** Standbys on an older timeline than the cluster's: rejoined after the failover. */
  stale?: string[];
  /** Standbys probed over a session the warm-up opened (the others were connected to by the step). */
  warmSessions?: number;
}

export interface RepointResult {
  following: string[];
  failed: Record<string, string>;
}

export interface PromoteResult {
  node: string;
  timeline: number;
  lsn: string;
  synchronousStandbyNames: string;
  /** Promoted over a session the warm-up opened (not a connection of its own). */
  warmSession?: boolean;
}

export interface FailoverState extends FailoverInput {
  assess?: AssessResult;
  fence?: FenceResult;
  elect?: ElectResult;
  repoint?: RepointResult;
  promote?: PromoteResult;
  pgpools?: Record<string, unknown>;
  verify?: Record<string, unknown>;
  error?: { Error: string; Cause: string };
}

export function requireState<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`workflow state is missing ${what}`);
  return v;
}
