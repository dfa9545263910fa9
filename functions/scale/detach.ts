/** Detach the leaving standby in every pgpool, marked for maintenance so failover ignores it. */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { holdLease } from '../switchover/common';
import { inEveryPgpool } from '../switchover/pgpool';
import type { ScaleInInput } from './types';

export async function step(state: ScaleInInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-in', state.executionName);
  const node = nodeByName(t, state.precheck?.node ?? '');
  await updateTopology(deps, (cur) => {
    const n = cur.nodes.find((x) => x.name === node.name);
    if (!n) return undefined;
    n.maintenance = true;
    return cur;
  });
  return inEveryPgpool(deps, t, 'pgpool-detach', node);
}

export const handler = lambda(step);
