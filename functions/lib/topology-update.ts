/** Read-modify-write of the topology with compare-and-set, retried on concurrent updates. */
import { TopologyConflictError, type Deps } from './ports';
import type { Topology } from './topology';

export async function updateTopology(
  deps: Pick<Deps, 'topology' | 'cluster'>,
  change: (t: Topology) => Topology | undefined,
  attempts = 8,
): Promise<Topology> {
  for (let i = 0; ; i++) {
    const cur = await deps.topology.get(deps.cluster);
    const next = change(structuredClone(cur));
    if (!next) return cur;
    try {
      const written = { ...next, version: cur.version + 1 };
      await deps.topology.put(written);
      return written;
    } catch (e) {
      if (!(e instanceof TopologyConflictError) || i >= attempts - 1) throw e;
    }
  }
}
