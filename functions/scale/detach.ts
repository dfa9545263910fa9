/**
 * Detach the drained standby in every pgpool (marked for maintenance so failover ignores it). The
 * drain left no session that reads from it, unless some outlived its deadline: pgpool cuts those whose
 * load-balance node this is (it restarts their child), and they are counted here: a session the drain
 * saw open whose pgpool child is gone once the pgpool shows the node down.
 */
import { lambda } from '../lib/handler';
import { pollUntil } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { markMaintenance } from '../lib/topology-changes';
import { holdLease } from '../planned/common';
import { inEveryPgpool, poolView } from '../planned/pgpool';
import { childPids } from './drain';
import type { ScaleInInput } from './types';

const SETTLE_MS = 2_000;

export async function step(state: ScaleInInput, deps: Deps) {
  const t = await holdLease(deps, 'scale-in', state.executionName);
  const node = nodeByName(t, state.precheck?.node ?? '');
  await updateTopology(deps, (cur) => markMaintenance(cur, node.name));
  const pgpools = await inEveryPgpool(deps, t, 'pgpool-detach', node);
  const left = state.drain?.sessionsLeft ?? [];
  if (!left.length) return { pgpools, sessionsOpenAtDetach: 0, sessionsCut: 0 };
  const creds = await deps.secrets.pgpool();
  let cut = 0;
  for (const p of t.pgpools.filter((x) => left.some((s) => s.pgpool === x.name))) {
    const mine = left.filter((s) => s.pgpool === p.name);
    // pgpool marks the node down and restarts the children whose session used it; give it a moment.
    let gone = 0;
    await pollUntil(
      deps,
      async () => {
        const down = (await poolView(deps, p).catch(() => [])).find((x) => x.id === node.backendId)?.status === 'down';
        const pids = await childPids(p, creds).catch(() => undefined);
        if (pids) gone = mine.filter((s) => !pids.has(s.pid)).length;
        return down && gone === mine.length ? true : undefined;
      },
      { timeoutMs: SETTLE_MS, intervalMs: 100, onTimeout: () => false },
    );
    cut += gone;
  }
  return { pgpools, sessionsOpenAtDetach: left.length, sessionsCut: cut };
}

export const handler = lambda(step);
