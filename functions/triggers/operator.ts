/**
 * The operator's requests, the same in both runtimes: `pgwarden failover|switchover|rejoin|
 * maintenance|scale|pause|resume`. The lab's API calls this; in AWS the `operator` Lambda is invoked
 * with it, and the CLI on an operator's machine calls it too (its deps start executions directly with
 * StartExecution). With `dryRun: true` only the prechecks run and nothing changes (./dry-run.ts).
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { withEvent } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { InvalidEventError, isObject, startFailover, type TriggerOutcome } from './common';
import { dryRun, type DryRunResult } from './dry-run';
import * as maintenance from './maintenance';
import { checkFree, type PlannedStart } from './planned';
import * as rejoin from './rejoin';
import * as scale from './scale';
import * as switchover from './switchover';

export const OPERATOR_ACTIONS = [
  'failover',
  'switchover',
  'rejoin',
  'maintenance',
  'scale',
  'pause',
  'resume',
] as const;

export type OperatorOutcome =
  TriggerOutcome | PlannedStart | DryRunResult | { action: 'paused' | 'resumed'; paused: boolean; reason: string };

export async function handle(event: unknown, deps: Deps): Promise<OperatorOutcome> {
  if (!isObject(event)) throw new InvalidEventError('request must be a JSON object');
  const reason = event.reason === undefined ? 'operator request' : event.reason;
  if (typeof reason !== 'string' || reason.length > 500)
    throw new InvalidEventError('reason must be a string of at most 500 characters');
  if (event.dryRun !== undefined && typeof event.dryRun !== 'boolean')
    throw new InvalidEventError('dryRun must be true or false');
  const { action, dryRun: dry, ...request } = event;
  if (dry) {
    if (action === 'pause' || action === 'resume') throw new InvalidEventError(`${action} has no prechecks to dry-run`);
    if (action === 'scale' && request.direction === 'out' && request.node === undefined) {
      // Provisioning is an action (the lab creates a node): check what would refuse it, nothing more.
      await checkFree(deps, 'scale-out');
      return {
        action: 'dry-run',
        workflow: 'scale-out',
        wouldProceed: true,
        reason: 'the cluster is free: scale out would provision an instance and start',
        executionName: '',
      };
    }
    return dryRun(deps, (d) => start(action, request, reason, d));
  }
  switch (action) {
    case 'pause':
    case 'resume': {
      const paused = action === 'pause';
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
      return start(action, request, reason, deps);
  }
}

async function start(
  action: unknown,
  request: Record<string, unknown>,
  reason: string,
  deps: Deps,
): Promise<TriggerOutcome | PlannedStart> {
  const planned = { ...request, ...(request.reason === undefined ? {} : { reason }) };
  switch (action) {
    case 'failover':
      return startFailover(deps, { source: 'operator', reason });
    case 'switchover':
      return switchover.handle(planned, deps);
    case 'rejoin':
      return rejoin.handle(planned, deps);
    case 'maintenance':
      return maintenance.handle(planned, deps);
    case 'scale': {
      // Scale out needs an instance: the request names one, or the spare the stack keeps is used (as
      // the read-load alarm does).
      if (request.direction === 'out' && request.node === undefined) {
        const node = await deps.instances.provision(await deps.topology.get(deps.cluster));
        return scale.handle({ ...planned, node }, deps);
      }
      return scale.handle(planned, deps);
    }
    default:
      throw new InvalidEventError(`unknown action ${JSON.stringify(action)} (actions: ${OPERATOR_ACTIONS.join(', ')})`);
  }
}

export const handler = lambda(handle);
