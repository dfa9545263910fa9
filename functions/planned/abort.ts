/**
 * Abort safely (switchover and maintenance): whatever failed, leave the cluster writable. If the
 * primary of record is stopped (a switch that failed before its promotion), it starts again as the
 * primary; every pgpool is made to route writes to the primary; nodes left marked for maintenance
 * are unmarked and, when they stream, attached again. The failure is then notified.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { restoreWritable } from './restore-writable';

export async function step(state: { executionName: string }, deps: Deps) {
  try {
    return { actions: await restoreWritable(deps, state.executionName) };
  } catch (e) {
    // The failure is notified next either way; say what could not be restored.
    return { actions: [], error: (e as Error).message };
  }
}

export const handler = lambda(step);
