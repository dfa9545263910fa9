/** Attach the caught-up node in every pgpool and record it as a standby again (rejoin). */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { attached } from '../lib/topology-changes';
import { inEveryPgpool } from '../planned/pgpool';
import { nodeName } from '../planned/common';

export async function step(state: { node?: string | { name: string } }, deps: Deps) {
  const t = await deps.topology.get(deps.cluster);
  const node = nodeByName(t, nodeName(state));
  const pgpools = await inEveryPgpool(deps, t, 'pgpool-attach', node);
  await updateTopology(deps, (cur) => attached(cur, node.name));
  return pgpools;
}

export const handler = lambda(step);
