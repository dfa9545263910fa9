/** Every pgpool of the cluster, seen and changed the same way by the planned workflows. */
import type { PoolNode } from '../lib/db';
import { poolView, routeWritesTo as routeWrites } from '../lib/pgpool-route';
import { pollUntil, type Poll } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import type { NodeSpec, PgpoolSpec, Topology } from '../lib/topology';
import { nodeAction } from './common';

export { poolView };

/**
 * Detach (or attach) a node in every pgpool; idempotent (the scripts check the node's status first).
 * pgpool processes both after pcp has returned (a failover, a failback), so each waits for it: an
 * attach until every pgpool shows the node up (whatever comes next, another node's maintenance, a
 * precheck, must see the cluster whole); a detach until every pgpool shows it down through a new
 * session, which pgpool accepts only once it has processed the detach. Until then its new sessions
 * still connect to the node, and the step after a detach stops it (a scale in under read load: a
 * session begun in that moment ended with "unable to read data from DB node N").
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
      else await downIn(deps, p, node);
      return [p.name, r.changed === 'yes' ? `${action.slice(7)}ed` : 'unchanged'] as const;
    }),
  );
  return Object.fromEntries(out);
}

/**
 * Until pgpool `p` shows `node` as `want` to a new session (pgpool accepts one only once it has
 * processed a pending detach or attach); `meanwhile` sees each status read between polls. A clear error
 * after pgpoolWaitMs, ending with `why()`.
 */
async function untilShown(
  deps: Deps,
  p: PgpoolSpec,
  node: NodeSpec,
  want: 'up' | 'down',
  why: (status: string | undefined) => string,
  meanwhile?: (status: string | undefined, poll: Poll) => Promise<void>,
): Promise<void> {
  const s = settings();
  let status: string | undefined;
  await pollUntil(
    deps,
    async () => {
      const view = await poolView(deps, p).catch(() => [] as PoolNode[]);
      status = view.find((v) => v.id === node.backendId)?.status;
      return status === want ? true : undefined;
    },
    {
      timeoutMs: s.pgpoolWaitMs,
      intervalMs: 100,
      onTimeout: () => {
        const verb = want === 'up' ? 'attaching' : 'detaching';
        throw new Error(
          `pgpool ${p.name} does not show ${node.name} ${want} ${s.pgpoolWaitMs} ms after ${verb} it (${why(status)})`,
        );
      },
      meanwhile: meanwhile && ((poll) => meanwhile(status, poll)),
    },
  );
}

const downIn = (deps: Deps, p: PgpoolSpec, node: NodeSpec) =>
  untilShown(deps, p, node, 'down', (status) => status ?? 'no answer');

/**
 * pgpool-II may detach a node again right after its failback (seen with 4.3): a client session that began before
 * the node was restarted still holds a connection to its old process, and the first statement that
 * touches it degenerates the node (failover_on_backend_error). That session's pgpool child ends with
 * it, so attaching once more sticks; a few attempts, then a clear error.
 */
async function upIn(deps: Deps, p: PgpoolSpec, node: NodeSpec): Promise<void> {
  let attachedAt = 0;
  let attempts = 1;
  await untilShown(
    deps,
    p,
    node,
    'up',
    () => `${attempts} attempts`,
    async (status, poll) => {
      if (status === 'down' && poll.elapsedMs() - attachedAt > 1_000 && attempts < 5) {
        await nodeAction(deps, { name: p.name, instanceId: p.instanceId }, 'pgpool-attach', {
          NODE_ID: String(node.backendId),
        });
        attachedAt = poll.elapsedMs();
        attempts++;
        deps.log(`pgpool ${p.name} detached ${node.name} again after its attach: attached again`, { attempts });
      }
    },
  );
}

/**
 * Wait until a pgpool routes writes to `primary`, `old` detached there while it still shows it up
 * (the failover's routing too: functions/lib/pgpool-route.ts).
 */
export async function routeWritesTo(
  deps: Deps,
  p: PgpoolSpec,
  primary: NodeSpec,
  old: NodeSpec | undefined,
): Promise<{ actions: string[]; waitedMs: number }> {
  const { actions, waitedMs } = await routeWrites(deps, p, primary, old);
  return { actions, waitedMs };
}
