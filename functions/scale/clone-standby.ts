/**
 * Wait for the basebackup StartClone started (start-clone.ts), inside this Lambda for up to
 * settings().commandPollWaitMs: while it runs, `{ running: true, ... }` and the workflow polls again;
 * a failed attempt is started again while attempts and time remain; past its deadline it is cancelled
 * and the step fails naming the node and the time it ran. Once it has ended, the method is reported.
 */
import { lambda, StepRefusal } from '../lib/handler';
import { pollLongCommand, startedCommand } from '../lib/long-command';
import type { Deps } from '../lib/ports';
import type { ScaleOutInput } from './types';

export async function step(state: ScaleOutInput & { clone?: unknown }, deps: Deps) {
  const c = startedCommand(state.clone, '$.clone');
  if (c.node !== state.node?.name)
    throw new StepRefusal('InvalidInput', `$.clone is a command on ${c.node}, this scale out adds ${state.node?.name}`);
  const p = await pollLongCommand(deps, c);
  if (p.running) return p;
  return { running: false as const, method: p.result.method ?? 'unknown', durationMs: p.elapsedMs, command: p.command };
}

export const handler = lambda(step);
