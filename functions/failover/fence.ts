/**
 * Fence the old primary before anything is promoted (safety invariant 1): detach it in every pgpool,
 * then make it unable to write — the fence script SIGKILLs every process of its data directory and
 * leaves it to restart only as a read-only standby; when the node cannot be reached that way, the
 * instance itself is force-stopped. Idempotent.
 */
import { lambda } from '../lib/handler';
import { nodeAction, NodeActionFailed } from '../lib/node-action';
import { renewLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { fence } from '../lib/topology-changes';
import { requireState, type FailoverState, type FenceResult } from './types';

export async function step(state: FailoverState, deps: Deps): Promise<FenceResult> {
  const assess = requireState(state.assess, 'assess');
  // Still this execution's cluster, and still the primary it assessed (a second execution, or an
  // operator, may have moved on meanwhile): otherwise stop before touching anything.
  const t = await renewLease(deps, 'failover', state.executionName, { primary: assess.primary, ignorePause: true });
  const old = nodeByName(t, assess.primary);
  const s = settings();

  // Detach everywhere and fence the node at the same time: both are done before anything is promoted.
  const detachP = Promise.all(
    t.pgpools.map(async (p) => {
      try {
        await nodeAction(deps, p, 'pgpool-detach', { NODE_ID: String(old.backendId) }, s.nodeCommandTimeoutMs);
        return [p.name, 'detached'] as const;
      } catch (e) {
        if (e instanceof NodeActionFailed) return [p.name, `detach failed: ${e.why}`] as const;
        // An unreachable pgpool cannot route to the old primary once it is fenced below.
        return [p.name, `unreachable: ${(e as Error).message}`] as const;
      }
    }),
  );

  let method: FenceResult['method'] = 'fence-script';
  const fenceP = fenceNode();
  const [detach] = await Promise.all([detachP, fenceP]);

  async function fenceNode(): Promise<void> {
    try {
      await nodeAction(deps, old, 'fence', { REASON: `failover ${state.executionName}` }, s.nodeCommandTimeoutMs);
    } catch (e) {
      deps.log('fence script did not complete; force-stopping the instance', {
        node: old.name,
        error: (e as Error).message,
      });
      await deps.instances.forceStop(old.instanceId);
      method = 'instance-stop';
    }
  }

  await updateTopology(deps, (cur) => fence(cur, old.name));
  deps.log('fenced', { node: old.name, method });
  return { node: old.name, method, pgpools: Object.fromEntries(detach) };
}

export const handler = lambda(step);
