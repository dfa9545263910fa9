/**
 * Wait for the rewind StartRewind started (start-rewind.ts), inside this Lambda for up to
 * settings().commandPollWaitMs: while it runs, `{ running: true, ... }` and the workflow polls again;
 * a failed attempt is started again while attempts and time remain; past its deadline it is cancelled
 * and the step fails naming the node and the time it ran. Once it has ended well the node is a standby
 * in the topology (still under maintenance: automatic failover ignores it until it is attached) and
 * the method used (rewind, basebackup, none) is reported.
 */
import { lambda, StepRefusal } from '../lib/handler';
import { pollLongCommand, startedCommand } from '../lib/long-command';
import type { Deps } from '../lib/ports';
import { updateTopology } from '../lib/topology-update';
import { rewound } from '../lib/topology-changes';
import type { RejoinState } from './types';

export async function step(state: RejoinState, deps: Deps) {
  const c = startedCommand(state.rewind, '$.rewind');
  if (c.node !== state.node)
    throw new StepRefusal('InvalidInput', `$.rewind is a command on ${c.node}, this rejoin is of ${state.node}`);
  const p = await pollLongCommand(deps, c);
  if (p.running) return p;
  // Not yet attached: marked, so that automatic failover ignores it until then.
  await updateTopology(deps, (cur) => rewound(cur, c.node));
  return { running: false as const, method: p.result.method ?? 'unknown', durationMs: p.elapsedMs, command: p.command };
}

export const handler = lambda(step);
