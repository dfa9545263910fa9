/** The switchover workflow's state document: the operator's request plus one result per step. */
import { settings } from '../lib/settings';
import type { PlannedInput } from '../planned/common';

export interface SwitchoverInput extends PlannedInput {
  /** The standby to promote; absent = the healthy standby with the least replay lag. */
  to?: string;
  /** Refuse when the target is further behind than this (default PGWARDEN_SWITCHOVER_MAX_LAG_BYTES). */
  maxLagBytes?: number;
  /**
   * Set when another execution runs this switchover as a nested execution (rolling maintenance): the
   * lease is taken over from that execution, and handed back when this one ends.
   */
  parentExecution?: string;
}

export interface PrecheckResult {
  primary: string;
  target: string;
  /** The other standbys: they cascade from the target before the switch and follow it after. */
  others: string[];
  targetLagBytes: number;
  timeline: number;
  reason: string;
}

export interface SwitchResult {
  oldPrimary: string;
  newPrimary: string;
  /** The old primary's shutdown checkpoint: its last WAL record, replayed by the target before promotion. */
  lastLsn: string;
  timeline: number;
  synchronousStandbyNames: string;
  /** Milliseconds: clean stop of the old primary, target catching up, promotion. */
  stopMs: number;
  catchUpMs: number;
  promoteMs: number;
}

export interface SwitchoverState extends SwitchoverInput {
  precheck?: PrecheckResult;
  prepare?: Record<string, unknown>;
  switch?: SwitchResult;
  pgpools?: Record<string, unknown>;
  oldPrimary?: Record<string, unknown>;
  verify?: Record<string, unknown>;
  error?: { Error: string; Cause: string };
}

export function need<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`workflow state is missing ${what}`);
  return v;
}

export function maxLagDefault(): number {
  return settings().switchoverMaxLagBytes;
}
