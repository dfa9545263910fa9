/**
 * The operator's requests (`pgwarden failover`, `pause`, `resume`), the same in both runtimes: the
 * CLI calls the lab's API, which calls this; in AWS it is invoked directly.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { withEvent } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { InvalidEventError, isObject, startFailover, type TriggerOutcome } from './common';

export type OperatorOutcome = TriggerOutcome | { action: 'paused' | 'resumed'; paused: boolean; reason: string };

export async function handle(event: unknown, deps: Deps): Promise<OperatorOutcome> {
  if (!isObject(event)) throw new InvalidEventError('request must be a JSON object');
  const reason = event.reason === undefined ? 'operator request' : event.reason;
  if (typeof reason !== 'string' || reason.length > 500)
    throw new InvalidEventError('reason must be a string of at most 500 characters');
  switch (event.action) {
    case 'failover':
      return startFailover(deps, { source: 'operator', reason });
    case 'pause':
    case 'resume': {
      const paused = event.action === 'pause';
      await updateTopology(deps, (t) => {
        const next = withEvent(
          { ...t, paused, pausedReason: paused ? reason : undefined },
          paused ? 'automation-paused' : 'automation-resumed',
          { reason },
          deps.now(),
        );
        return next;
      });
      return { action: paused ? 'paused' : 'resumed', paused, reason };
    }
    default:
      throw new InvalidEventError(`unknown action ${JSON.stringify(event.action)} (actions: failover, pause, resume)`);
  }
}

export const handler = lambda(handle);
