/**
 * A scale in that failed puts the cluster back as it was as far as it safely can: the cluster stays
 * writable (restoreWritable), and when the leaving standby still streams it serves again — attached,
 * unmarked, its load-balancing weight restored (every pgpool's configuration rendered again) and the
 * synchronous quorum over every streaming standby. A standby that no longer streams (stopped after the
 * detach) is left for an operator or the rejoin workflow. The failure is then notified.
 */
import { lambda } from '../lib/handler';
import { activeLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { live, nodeAction, replicas, setQuorum } from '../planned/common';
import { restoreWritable } from '../planned/restore-writable';
import type { ScaleInInput } from './types';

export async function step(state: ScaleInInput, deps: Deps) {
  const actions: string[] = [];
  try {
    actions.push(...(await restoreWritable(deps, state.executionName)));
    const t = await deps.topology.get(deps.cluster);
    const held = activeLease(t, deps.now());
    if (held && held.execution !== state.executionName) return { actions };
    const node = state.precheck?.node ?? state.node;
    const streaming = (await replicas(deps, t)).filter((r) => r.state === 'streaming').map((r) => r.name);
    if (node && streaming.includes(node)) {
      for (const p of t.pgpools)
        await nodeAction(deps, { name: p.name, instanceId: p.instanceId }, 'pgpool-reload', {});
      actions.push(`${node}: load-balancing weight restored in every pgpool`);
      const standbys = live(t)
        .filter((n) => n.role === 'standby' && streaming.includes(n.name))
        .map((n) => n.name);
      actions.push(`quorum: ${await setQuorum(deps, t, standbys)}`);
    } else if (node) actions.push(`${node} is not streaming: left detached for an operator or the rejoin workflow`);
    return { actions };
  } catch (e) {
    // The failure is notified next either way; say what could not be restored.
    return { actions, error: (e as Error).message };
  }
}

export const handler = lambda(step);
