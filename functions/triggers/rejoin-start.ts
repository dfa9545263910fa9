/** Start the rejoin (failback) workflow for a node; execution names collapse per node and timeline. */
import { executionName } from '../lib/execution-name';
import type { Deps } from '../lib/ports';

export async function startRejoin(deps: Deps, node: string, reason: string) {
  const topo = await deps.topology.get(deps.cluster);
  const name = executionName([
    deps.cluster,
    'rejoin',
    `tl${topo.timeline}`,
    node,
    String(Math.floor(deps.now().getTime() / 60_000)),
  ]);
  const r = await deps.workflows.start('rejoin', name, {
    cluster: deps.cluster,
    workflow: 'rejoin',
    executionName: name,
    node,
    reason,
    at: deps.now().toISOString(),
  });
  return { action: 'rejoin' as const, node, started: r.started, executionName: r.executionName };
}
