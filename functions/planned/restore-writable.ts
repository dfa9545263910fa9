/**
 * Leave the cluster writable after a planned workflow failed (switchover and maintenance abort, scale
 * in's abort): if the primary of record is stopped (a switch that failed before its promotion), it
 * starts again as the primary; every pgpool is made to route writes to the primary; nodes left marked
 * for maintenance are unmarked and, when they stream, attached again.
 */
import { probeNode } from '../lib/db';
import { activeLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { updateTopology } from '../lib/topology-update';
import { clearMaintenanceMarks } from '../lib/topology-changes';
import { live, nodeAction, primaryOf, replicas } from './common';
import { inEveryPgpool, routeWritesTo } from './pgpool';

export async function restoreWritable(deps: Deps, execution: string): Promise<string[]> {
  const actions: string[] = [];
  const t = await deps.topology.get(deps.cluster);
  // Pre-empted (a failover took the cluster) or expired and taken: the cluster is no longer this
  // execution's to restore, and acting now would race the workflow that holds it.
  const held = activeLease(t, deps.now());
  if (held && held.execution !== execution)
    return [`${held.workflow} ${held.execution} holds the cluster: nothing restored by ${execution}`];
  const primary = primaryOf(t);
  const creds = await deps.secrets.admin();
  const p = await probeNode(primary, creds, settings().checkTimeoutMs);
  if (!p.reachable) {
    // Never a second primary: start the primary of record only when every other node answers and
    // none was promoted. A node that does not answer may have been promoted (a switchover's target
    // that went away mid-promotion): unknown is not "not promoted".
    for (const n of live(t).filter((x) => x.name !== primary.name)) {
      const o = await probeNode(n, creds, settings().checkTimeoutMs);
      if (o.reachable && o.inRecovery === false)
        throw new Error(`${n.name} is writable while ${primary.name} is stopped: an operator must decide`);
      if (!o.reachable)
        throw new Error(
          `${n.name} does not answer (${o.error}): it may have been promoted, so ${primary.name} is not started; an operator or the failover decides`,
        );
    }
    // Its switchover stop left standby.signal: started again as the primary it still is.
    await nodeAction(deps, primary, 'start', { AS_PRIMARY: 'yes' });
    actions.push(`started ${primary.name}`);
  } else if (p.inRecovery) {
    throw new Error(`primary of record ${primary.name} is in recovery: an operator must decide`);
  }
  const attached = await inEveryPgpool(deps, t, 'pgpool-attach', primary);
  actions.push(`attach ${primary.name}: ${JSON.stringify(attached)}`);
  for (const pp of t.pgpools) await routeWritesTo(deps, pp, primary, undefined);
  actions.push(`every pgpool routes writes to ${primary.name}`);
  // Standbys under maintenance: unmarked; attached again when they stream.
  const streaming = new Set(
    (await replicas(deps, t).catch(() => [])).filter((r) => r.state === 'streaming').map((r) => r.name),
  );
  for (const n of live(t).filter((x) => x.maintenance)) {
    if (streaming.has(n.name)) {
      await inEveryPgpool(deps, t, 'pgpool-attach', n);
      actions.push(`attached ${n.name}`);
    } else actions.push(`${n.name} is not streaming: left detached for the rejoin workflow`);
  }
  await updateTopology(deps, clearMaintenanceMarks);
  return actions;
}
