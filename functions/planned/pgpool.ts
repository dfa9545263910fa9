/** Every pgpool of the cluster, seen and changed the same way by the planned workflows. */
import { showPoolNodes, type PoolNode } from '../lib/db';
import { pollUntil } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import type { NodeSpec, PgpoolSpec, Topology } from '../lib/topology';
import { nodeAction } from './common';

export async function poolView(deps: Deps, p: PgpoolSpec): Promise<PoolNode[]> {
  return showPoolNodes(p, await deps.secrets.pgpool(), settings().checkTimeoutMs);
}

/**
 * Detach (or attach) a node in every pgpool; idempotent (the scripts check the node's status first).
 * An attach returns once every pgpool shows the node up: pgpool processes it (a failback) after
 * pcp_attach_node has returned, and whatever comes next (another node's maintenance, a precheck)
 * must see the cluster whole.
 */
export async function inEveryPgpool(
  deps: Deps,
  t: Topology,
  action: 'pgpool-detach' | 'pgpool-attach',
  node: NodeSpec,
): Promise<Record<string, string>> {
  const out = await Promise.all(
    t.pgpools.map(async (p) => {
      const r = await nodeAction(deps, { name: p.name, instanceId: p.instanceId }, action, {
        NODE_ID: String(node.backendId),
      });
      if (action === 'pgpool-attach') await upIn(deps, p, node);
      return [p.name, r.changed === 'yes' ? `${action.slice(7)}ed` : 'unchanged'] as const;
    }),
  );
  return Object.fromEntries(out);
}

/**
 * pgpool-II may detach a node again right after its failback (seen with 4.3): a client session that began before
 * the node was restarted still holds a connection to its old process, and the first statement that
 * touches it degenerates the node (failover_on_backend_error). That session's pgpool child ends with
 * it, so attaching once more sticks; a few attempts, then a clear error.
 */
async function upIn(deps: Deps, p: PgpoolSpec, node: NodeSpec): Promise<void> {
  const s = settings();
  let attachedAt = 0;
  let attempts = 1;
  let status: string | undefined;
  await pollUntil(
    deps,
    async () => {
      const view = await poolView(deps, p).catch(() => [] as PoolNode[]);
      status = view.find((v) => v.id === node.backendId)?.status;
      return status === 'up' ? true : undefined;
    },
    {
      timeoutMs: s.pgpoolWaitMs,
      intervalMs: 100,
      onTimeout: () => {
        throw new Error(
          `pgpool ${p.name} does not show ${node.name} up ${s.pgpoolWaitMs} ms after attaching it (${attempts} attempts)`,
        );
      },
      meanwhile: async (poll) => {
        if (status === 'down' && poll.elapsedMs() - attachedAt > 1_000 && attempts < 5) {
          await nodeAction(deps, { name: p.name, instanceId: p.instanceId }, 'pgpool-attach', {
            NODE_ID: String(node.backendId),
          });
          attachedAt = poll.elapsedMs();
          attempts++;
          deps.log(`pgpool ${p.name} detached ${node.name} again after its attach: attached again`, { attempts });
        }
      },
    },
  );
}

/**
 * Wait until a pgpool routes writes to `primary`; the old primary is detached there if it is still
 * attached (a pgpool without traffic may not have noticed the switch). pgpool finds the new primary
 * by itself once the old one is detached.
 */
export async function routeWritesTo(
  deps: Deps,
  p: PgpoolSpec,
  primary: NodeSpec,
  old: NodeSpec | undefined,
): Promise<{ actions: string[]; waitedMs: number }> {
  const s = settings();
  const actions: string[] = [];
  let detached = false;
  return pollUntil(
    deps,
    async (poll) => {
      const view = await poolView(deps, p).catch(() => [] as PoolNode[]);
      const at = (n: NodeSpec) => view.find((v) => v.id === n.backendId);
      if (at(primary)?.status === 'up' && at(primary)?.role === 'primary')
        return { actions, waitedMs: poll.elapsedMs() };
      if (old && !detached && at(old)?.status === 'up') {
        await nodeAction(deps, { name: p.name, instanceId: p.instanceId }, 'pgpool-detach', {
          NODE_ID: String(old.backendId),
        });
        actions.push(`detached ${old.name}`);
        detached = true;
      } else if (view.length && at(primary)?.status === 'down' && poll.elapsedMs() > s.pgpoolWaitMs / 2) {
        // The new primary itself was marked down in this pgpool: attaching it makes pgpool search again.
        await nodeAction(deps, { name: p.name, instanceId: p.instanceId }, 'pgpool-attach', {
          NODE_ID: String(primary.backendId),
        });
        actions.push(`attached ${primary.name}`);
      }
      return undefined;
    },
    {
      timeoutMs: s.pgpoolWaitMs,
      intervalMs: 50,
      onTimeout: () => {
        throw new Error(`pgpool ${p.name} does not route writes to ${primary.name} after ${s.pgpoolWaitMs} ms`);
      },
    },
  );
}
