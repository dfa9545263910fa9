/** The rejoin (failback) workflow's state document. */
import type { PlannedInput } from '../switchover/common';

export interface RejoinInput extends PlannedInput {
  /** The node to bring back as a standby. */
  node: string;
  /** auto (default): pg_rewind, pg_basebackup when rewind cannot work; or force one of them. */
  method?: 'auto' | 'rewind' | 'basebackup';
}

export interface RejoinState extends RejoinInput {
  precheck?: { primary: string; node: string; wasRole: string };
  rewind?: { method: string; durationMs: number };
  error?: { Error: string; Cause: string };
}

/** The node a state names: a rejoin names it, scale-out carries its spec. */
export function nodeName(state: { node?: string | { name: string } }): string {
  const n = state.node;
  const name = typeof n === 'string' ? n : n?.name;
  if (!name) throw new Error('workflow state names no node');
  return name;
}
