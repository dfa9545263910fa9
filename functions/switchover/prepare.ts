/**
 * Prepare, while writes still flow: the other standbys cascade from the target (so the new
 * primary's quorum is there the moment it is promoted), and a checkpoint on the primary makes its
 * shutdown checkpoint, inside the write window, short.
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { withClient } from '../lib/db';
import { holdLease, nodeAction, quorumOver, quoteLiteral, slotName, sql } from '../planned/common';
import { need, type SwitchoverState } from './types';

export async function step(state: SwitchoverState, deps: Deps) {
  const pre = need(state.precheck, 'precheck');
  const t = await holdLease(deps, state.workflow ?? 'switchover', state.executionName);
  const target = nodeByName(t, pre.target);
  const cascading = await Promise.all(
    pre.others.map(async (name) => {
      await nodeAction(deps, nodeByName(t, name), 'follow', {
        PRIMARY_HOST: target.host,
        PRIMARY_PORT: String(target.port),
        WAIT_SECONDS: '30',
      });
      return name;
    }),
  );
  // The target's settings as a primary, ahead of the window: its followers' slots and its quorum
  // (synchronous_standby_names is ignored until it is promoted).
  const creds = await deps.secrets.admin();
  const followers = [...pre.others, pre.primary];
  const sync = quorumOver(t, followers);
  await withClient(
    target,
    creds,
    30_000,
    async (c) => {
      for (const f of followers) {
        await c.query(
          'select pg_create_physical_replication_slot($1, true) where not exists (select from pg_replication_slots where slot_name = $1)',
          [slotName(f)],
        );
      }
      await c.query(`alter system set synchronous_standby_names = ${quoteLiteral(sync)}`);
      await c.query('select pg_reload_conf()');
    },
    'postgres',
  );
  const t0 = deps.now().getTime();
  await sql(nodeByName(t, pre.primary), creds, 'checkpoint', [], 60_000);
  return {
    cascadingFrom: target.name,
    standbys: cascading,
    synchronousStandbyNames: sync,
    checkpointMs: deps.now().getTime() - t0,
  };
}

export const handler = lambda(step);
