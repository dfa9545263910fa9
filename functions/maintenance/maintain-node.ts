/**
 * Maintain one standby: marked `maintenance` in the topology (automatic failover ignores it),
 * detached in every pgpool, the command run while PostgreSQL is stopped (maintenance.sh), caught up
 * with the primary again, attached, unmarked. A retry after the command succeeded (recorded in the
 * topology history for this execution) does not run it again.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName, withEvent } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { markMaintenance } from '../lib/topology-changes';
import { holdLease, nodeAction, refuse, waitCaughtUp, waitNoNewSessions } from '../planned/common';
import { inEveryPgpool } from '../planned/pgpool';
import type { NodeMaintenance } from './types';

export const COMMAND_DONE = 'maintenance-command-done';

/**
 * This step runs in one Lambda (at most 900 s; its Task's TimeoutSeconds is 900): the command gets
 * 8 minutes, catching up 5, leaving 2 for the lease, pgpool detach and attach.
 */
export const MAINTENANCE_COMMAND_TIMEOUT_MS = 480_000;
const CATCH_UP_TIMEOUT_MS = 300_000;

export async function step(item: NodeMaintenance, deps: Deps) {
  const t = await holdLease(deps, 'maintenance', item.executionName);
  const node = nodeByName(t, item.node);
  if (node.name === t.primary) refuse(`${node.name} is the primary: switch over first`);
  const mark = (on: boolean) => updateTopology(deps, (cur) => markMaintenance(cur, node.name, on));
  const t0 = deps.now().getTime();
  // A retry after the command succeeded (e.g. the attach failed) does not run it again.
  const done = t.history.find(
    (e) => e.kind === COMMAND_DONE && e.detail.execution === item.executionName && e.detail.node === node.name,
  );
  await mark(true);
  const detached = await inEveryPgpool(deps, t, 'pgpool-detach', node);
  // Sessions that began just before the detach still open their connection to it: let them.
  await waitNoNewSessions(node, await deps.secrets.admin(), { clock: deps }).catch(() => undefined);
  let r: Record<string, string>;
  if (done) {
    r = { command: String(done.detail.command ?? item.command), skipped: 'already run by this execution' };
    // Its restart may have been cut short: make sure it runs (start.sh is idempotent).
    await nodeAction(deps, node, 'start', {});
  } else {
    r = await nodeAction(deps, node, 'maintenance', { COMMAND: item.command }, MAINTENANCE_COMMAND_TIMEOUT_MS);
    await updateTopology(deps, (cur) =>
      withEvent(
        cur,
        COMMAND_DONE,
        { execution: item.executionName, node: node.name, command: item.command },
        deps.now(),
      ),
    );
  }
  const caught = await waitCaughtUp(deps, node.name, 1024 * 1024, CATCH_UP_TIMEOUT_MS);
  const attached = await inEveryPgpool(deps, t, 'pgpool-attach', node);
  await mark(false);
  return {
    node: node.name,
    command: r.command,
    detached,
    attached,
    caughtUp: caught,
    durationMs: deps.now().getTime() - t0,
  };
}

export const handler = lambda(step);
