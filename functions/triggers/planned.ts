/**
 * What the operator triggers of the planned workflows (switchover, rejoin, maintenance, scale out/in)
 * share: a unique execution name, the cluster's lease claimed before the execution starts (two
 * requests at once: exactly one starts, the other is refused clearly with nothing changed), and the
 * refusal error the API maps to 409.
 */
import { executionName } from '../lib/execution-name';
import { StepRefusal } from '../lib/handler';
import type { Deps, WorkflowName } from '../lib/ports';
import { blocker, holdLease, release, type PlannedWorkflow } from '../planned/common';
import { isObject, InvalidEventError } from './common';

export class RefusedError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'Refused';
  }
}

export interface PlannedStart {
  action: 'started';
  workflow: PlannedWorkflow;
  executionName: string;
  executionArn: string;
}

export function reasonOf(event: Record<string, unknown>, dflt: string): string {
  const reason = event.reason === undefined ? dflt : event.reason;
  if (typeof reason !== 'string' || reason.length > 500)
    throw new InvalidEventError('reason must be a string of at most 500 characters');
  return reason;
}

export function requireObject(event: unknown): Record<string, unknown> {
  if (!isObject(event)) throw new InvalidEventError('request must be a JSON object');
  return event;
}

/** Refuse now (nothing changed) when automation is paused or another workflow holds the cluster. */
export async function checkFree(deps: Deps, workflow: PlannedWorkflow): Promise<void> {
  const t = await deps.topology.get(deps.cluster);
  const why = blocker(t, '', deps.now());
  if (why) throw new RefusedError(`${workflow} refused: ${why}`);
}

export async function startPlanned(
  deps: Deps,
  workflow: PlannedWorkflow,
  nameParts: string[],
  input: Record<string, unknown> & { reason: string },
): Promise<PlannedStart> {
  const now = deps.now();
  const name = executionName([deps.cluster, workflow, ...nameParts, now.toISOString().replace(/[^0-9]/g, '')]);
  try {
    await holdLease(deps, workflow, name, 'take');
  } catch (e) {
    if (e instanceof StepRefusal) throw new RefusedError(e.message);
    throw e;
  }
  try {
    const r = await deps.workflows.start(workflow as WorkflowName, name, {
      cluster: deps.cluster,
      workflow,
      executionName: name,
      at: now.toISOString(),
      ...input,
    });
    deps.log(`operator: ${workflow} started`, { execution: name, reason: input.reason });
    return { action: 'started', workflow, executionName: r.executionName, executionArn: r.executionArn };
  } catch (e) {
    await release(deps, name, `${workflow}-not-started`, { error: (e as Error).message });
    throw e;
  }
}
