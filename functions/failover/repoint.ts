/**
 * Repoint the other standbys to the candidate while it is promoted: each creates its replication
 * slot there, then gets primary_conninfo through ALTER SYSTEM and a reload (no restart). They cascade
 * from the candidate and follow its new timeline the moment it is promoted
 * (recovery_target_timeline = latest), so the new primary's synchronous quorum is met at once.
 * Verify checks that they stream. A standby that cannot follow is left for the rejoin workflow.
 */
import { lambda } from '../lib/handler';
import { nodeAction, NodeActionFailed } from '../lib/node-action';
import { renewLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { followOverSql } from '../lib/sql-node';
import { nodeByName } from '../lib/topology';
import { requireState, type FailoverState, type RepointResult } from './types';

export async function step(state: FailoverState, deps: Deps): Promise<RepointResult> {
  const elect = requireState(state.elect, 'elect');
  const assess = requireState(state.assess, 'assess');
  const t = await renewLease(deps, 'failover', state.executionName, { ignorePause: true });
  const primary = nodeByName(t, requireState(elect.candidate, 'elect.candidate'));
  const others = t.nodes.filter(
    (n) =>
      n.name !== primary.name && n.name !== assess.primary && n.role === 'standby' && elect.standbys[n.name]?.reachable,
  );
  const s = settings();
  const failed: Record<string, string> = {};
  const following: string[] = [];
  const creds = await deps.secrets.admin();
  await Promise.all(
    others.map(async (o) => {
      try {
        // Over SQL first (follow.sh's statements without SSM's round trip), the node command otherwise.
        if (s.nodeActionsOverSql) {
          try {
            await followOverSql(o, primary, creds, s.checkTimeoutMs);
            following.push(o.name);
            return;
          } catch (e) {
            deps.log('repoint over SQL failed; repointing through the node command', {
              node: o.name,
              error: (e as Error).message,
            });
          }
        }
        await nodeAction(
          deps,
          o,
          'follow',
          { PRIMARY_HOST: primary.host, PRIMARY_PORT: String(primary.port), WAIT_SECONDS: '0' },
          s.nodeCommandTimeoutMs,
        );
        following.push(o.name);
      } catch (e) {
        failed[o.name] = e instanceof NodeActionFailed ? e.why : (e as Error).message;
      }
    }),
  );
  return { following: following.sort(), failed };
}

export const handler = lambda(step);
