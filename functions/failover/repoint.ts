/**
 * Repoint the other standbys to the candidate before it is promoted: they cascade from it and
 * follow its new timeline the moment it is promoted (recovery_target_timeline = latest), so the new
 * primary has its synchronous standbys at once and writes resume without waiting for them.
 * Each standby gets its replication slot on the candidate first. The step does not wait for them to
 * stream (Verify does); a standby that cannot follow is left for the rejoin workflow.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { nodeByName } from '../lib/topology';
import { requireState, type FailoverState, type RepointResult } from './types';

export async function step(state: FailoverState, deps: Deps): Promise<RepointResult> {
  const elect = requireState(state.elect, 'elect');
  const assess = requireState(state.assess, 'assess');
  const t = await deps.topology.get(state.cluster);
  const cand = nodeByName(t, requireState(elect.candidate, 'elect.candidate'));
  const others = t.nodes.filter(
    (n) =>
      n.name !== cand.name && n.name !== assess.primary && n.role === 'standby' && elect.standbys[n.name]?.reachable,
  );
  const s = settings();
  const failed: Record<string, string> = {};
  if (others.length) {
    const r = await deps.nodes.run(
      cand.instanceId,
      'slots',
      { SLOTS: others.map((o) => o.name).join(',') },
      { timeoutMs: s.nodeCommandTimeoutMs },
    );
    if (!r.ok)
      throw new Error(`could not create replication slots on ${cand.name}: ${r.stderr.trim().split('\n').pop()}`);
  }
  const following: string[] = [];
  await Promise.all(
    others.map(async (o) => {
      try {
        const r = await deps.nodes.run(
          o.instanceId,
          'follow',
          { PRIMARY_HOST: cand.host, PRIMARY_PORT: String(cand.port), WAIT_SECONDS: '0' },
          { timeoutMs: s.nodeCommandTimeoutMs },
        );
        if (r.ok) following.push(o.name);
        else failed[o.name] = r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`;
      } catch (e) {
        failed[o.name] = (e as Error).message;
      }
    }),
  );
  return { following: following.sort(), failed };
}

export const handler = lambda(step);
