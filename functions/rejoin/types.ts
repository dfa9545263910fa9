/** The rejoin (failback) workflow's state document. */
import type { LongCommand, LongCommandProgress } from '../lib/long-command';
import type { PlannedInput } from '../planned/common';

export interface RejoinInput extends PlannedInput {
  /** The node to bring back as a standby. */
  node: string;
  /** auto (default): pg_rewind, pg_basebackup when rewind cannot work; or force one of them. */
  method?: 'auto' | 'rewind' | 'basebackup';
}

export interface RejoinState extends RejoinInput {
  precheck?: { primary: string; node: string; wasRole: string };
  /**
   * StartRewind's and RewindNode's progress while the command runs (`running: true`, the started
   * command), then `{ running: false, method, durationMs, command }`.
   */
  rewind?: LongCommandProgress | { running: false; method: string; durationMs: number; command: LongCommand };
  error?: { Error: string; Cause: string };
}
