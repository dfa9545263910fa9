/**
 * The switch itself, the only part inside the write window, kept in one step:
 * 1. clean ("fast") shutdown of the old primary: it refuses new writes, ends its sessions, writes a
 *    shutdown checkpoint, and its WAL senders ship everything up to it before they exit; the step
 *    goes on once the control file records the shutdown checkpoint (not when the postmaster has
 *    exited: the WAL senders are still shipping, which step 2 waits for anyway);
 * 2. the target waits until it has replayed past that checkpoint (pg_controldata's "Latest
 *    checkpoint location" of the stopped node): it holds every acknowledged commit, and the old
 *    primary's WAL is a prefix of the new timeline, so the old primary can follow without rewind;
 * 3. the target is promoted over SQL (no node-script round trip); its synchronous quorum over the
 *    other standbys and the old primary, and their slots, were set by PrepareSwitch;
 * 4. the promotion is recorded at once, then the new primary's own settings.
 * pgpool notices the stop and fails over by itself; its failover_command waits for this step (lab:
 * the pgpool trigger; see infra/local/controlplane/workflow-routes.ts), so its search for the new
 * primary succeeds at the first attempt. On error before promotion, AbortSwitchover restarts the old
 * primary.
 */
import type { Client } from 'pg';
import { withClient } from '../lib/db';
import { lambda } from '../lib/handler';
import { pollUntil, type Clock } from '../lib/poll';
import type { Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { nodeByName } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { markSwitching, switchedOver } from '../lib/topology-changes';
import { holdLease, lsnAfter, nodeAction, quorumOver, quoteLiteral, slotName } from '../planned/common';
import { need, type SwitchoverState, type SwitchResult } from './types';

const CATCH_UP_TIMEOUT_MS = 30_000;
const PROMOTE_TIMEOUT_MS = 60_000;

export async function step(state: SwitchoverState, deps: Deps): Promise<SwitchResult> {
  const pre = need(state.precheck, 'precheck');
  const t = await holdLease(deps, state.workflow ?? 'switchover', state.executionName);
  if (t.primary === pre.target) return already(state, t.timeline);
  if (t.primary !== pre.primary) throw new Error(`the primary changed to ${t.primary} since the precheck`);
  const old = nodeByName(t, pre.primary);
  const target = nodeByName(t, pre.target);
  const followers = [...pre.others, old.name];
  const sync = quorumOver(t, followers);
  const creds = await deps.secrets.admin();
  const s = settings();

  // Before the window opens: the primary is about to go down on purpose, and a failover must not
  // pre-empt this workflow for it (lib/lease.ts). The promotion's record clears it.
  await updateTopology(deps, (cur) => markSwitching(cur, state.executionName, old.name, target.name, deps.now()));
  // Connected before the window opens: polling and promoting cost no connection set-up.
  return withClient(
    target,
    creds,
    CATCH_UP_TIMEOUT_MS,
    async (c) => {
      const t0 = deps.now().getTime();
      const stopped = await nodeAction(
        deps,
        old,
        'stop',
        { MODE: 'fast', UNTIL: 'checkpoint', STANDBY_SIGNAL: 'yes' },
        s.nodeCommandTimeoutMs,
      );
      if (stopped.state !== 'shut_down' || !stopped.checkpoint_lsn)
        throw new Error(`${old.name} did not shut down cleanly (state "${stopped.state}")`);
      const lastLsn = stopped.checkpoint_lsn;
      const t1 = deps.now().getTime();
      await replayedPast(deps, c, target.name, lastLsn);
      const t2 = deps.now().getTime();
      await promote(deps, c);
      const t3 = deps.now().getTime();
      const timeline = await timelineOf(c);
      // The old primary restarts as a standby in the next step, within this workflow.
      await updateTopology(deps, (cur) =>
        switchedOver(cur, {
          node: target.name,
          timeline,
          sync,
          lsn: lastLsn,
          lastLsn,
          from: old.name,
          execution: state.executionName,
          at: deps.now(),
        }),
      );
      await settle(c, sync, followers);
      deps.log('switched over', { from: old.name, to: target.name, timeline, lastLsn });
      return {
        oldPrimary: old.name,
        newPrimary: target.name,
        lastLsn,
        timeline,
        synchronousStandbyNames: sync,
        stopMs: t1 - t0,
        catchUpMs: t2 - t1,
        promoteMs: t3 - t2,
      };
    },
    'postgres',
  );
}

async function replayedPast(clock: Clock, c: Client, name: string, lsn: string): Promise<void> {
  let replay: string | null = null;
  await pollUntil(
    clock,
    async () => {
      const r = await c.query('select pg_last_wal_replay_lsn()::text as replay, pg_is_in_recovery() as rec');
      const row = r.rows[0] as { replay: string | null; rec: boolean };
      replay = row.replay;
      if (!row.rec) throw new Error(`${name} is no longer in recovery before its promotion`);
      return replay && lsnAfter(replay, lsn) ? true : undefined;
    },
    {
      timeoutMs: CATCH_UP_TIMEOUT_MS,
      intervalMs: 5,
      onTimeout: () => {
        throw new Error(`${name} did not replay past the old primary's last LSN ${lsn} (at ${replay})`);
      },
    },
  );
}

/** Promote (its slots and quorum were set by PrepareSwitch), polling every 5 ms. */
async function promote(clock: Clock, c: Client): Promise<void> {
  await c.query('select pg_promote(false)');
  await pollUntil(
    clock,
    async () => ((await c.query('select pg_is_in_recovery() as rec')).rows[0].rec ? undefined : true),
    {
      timeoutMs: PROMOTE_TIMEOUT_MS,
      intervalMs: 5,
      onTimeout: () => {
        throw new Error(`promotion did not complete within ${PROMOTE_TIMEOUT_MS / 1000} s`);
      },
    },
  );
}

async function timelineOf(c: Client): Promise<number> {
  const r = await c.query("select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as tl");
  return Number(r.rows[0].tl);
}

/** Idempotent repeats of PrepareSwitch's settings (a retry may come after a crash), then no upstream. */
async function settle(c: Client, sync: string, followers: string[]): Promise<void> {
  for (const f of followers) {
    await c.query(
      'select pg_create_physical_replication_slot($1, true) where not exists (select from pg_replication_slots where slot_name = $1)',
      [slotName(f)],
    );
  }
  await c.query(`alter system set synchronous_standby_names = ${quoteLiteral(sync)}`);
  await c.query('alter system reset primary_conninfo');
  await c.query('alter system reset primary_slot_name');
  await c.query('select pg_reload_conf()');
}

/** A retried step whose first attempt promoted the target. */
function already(state: SwitchoverState, timeline: number): SwitchResult {
  const pre = need(state.precheck, 'precheck');
  return {
    oldPrimary: pre.primary,
    newPrimary: pre.target,
    lastLsn: 'unknown (retried after the promotion)',
    timeline,
    synchronousStandbyNames: '',
    stopMs: 0,
    catchUpMs: 0,
    promoteMs: 0,
  };
}

export const handler = lambda(step);
