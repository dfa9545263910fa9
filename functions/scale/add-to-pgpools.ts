/**
 * Every pgpool gets the new backend (its configuration re-rendered and reloaded: pgpool adds a
 * backend on reload, marked down), then attaches it once it has caught up, with the load-balancing
 * weight of the configuration; the node joins the topology as a standby.
 */
import { lambda } from '../lib/handler';
import { pollUntil } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { updateTopology } from '../lib/topology-update';
import { holdLease, nodeAction } from '../planned/common';
import { poolView } from '../planned/pgpool';
import type { ScaleOutInput } from './types';

export async function step(state: ScaleOutInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-out', state.executionName);
  const n = state.node;
  const out: Record<string, string> = {};
  for (const p of t.pgpools) {
    const target = { name: p.name, instanceId: p.instanceId };
    const known = async () => (await poolView(deps, p)).some((v) => v.id === n.backendId);
    if (!(await known())) {
      await nodeAction(deps, target, 'pgpool-reload', {});
      await pollUntil(deps, async () => ((await known()) ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 100,
        onTimeout: () => {
          throw new Error(`pgpool ${p.name} did not add backend ${n.backendId} on reload`);
        },
      });
    }
    const r = await nodeAction(deps, target, 'pgpool-attach', { NODE_ID: String(n.backendId) });
    out[p.name] = r.changed === 'yes' ? 'added and attached' : 'already attached';
  }
  await updateTopology(deps, (cur) => {
    const spec = { name: n.name, host: n.host, port: n.port, backendId: n.backendId, instanceId: n.instanceId };
    const nodes = cur.nodes.filter((x) => x.name !== n.name);
    nodes.push({ ...spec, role: 'standby' });
    return { ...cur, nodes };
  });
  return out;
}

export const handler = lambda(step);
