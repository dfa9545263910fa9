/** `pgwarden maintenance [--command CMD]` (or StartExecution): start rolling maintenance. */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { SAFE_COMMAND } from '../maintenance/plan';
import { InvalidEventError } from './common';
import { reasonOf, requireObject, startPlanned } from './planned';

export async function handle(event: unknown, deps: Deps) {
  const e = requireObject(event);
  const reason = reasonOf(e, 'operator rolling maintenance');
  const command = e.command ?? 'restart';
  if (typeof command !== 'string' || !SAFE_COMMAND.test(command))
    throw new InvalidEventError('command must be 1-500 characters with no quote, backslash or newline');
  return startPlanned(deps, 'maintenance', [], { reason, command });
}

export const handler = lambda(handle);
