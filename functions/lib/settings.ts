/**
 * Timings of the workflow steps, from the environment. A runtime may give a profile of other values
 * (the lab's control plane: shorter ones; infra/local/controlplane/main.ts): a variable set in the
 * environment still wins over the profile, which wins over the defaults below.
 */
import type { EnvSource } from './env';

export interface Settings {
  /** Connect + query deadline of one probe of a node. PGWARDEN_PROBE_TIMEOUT_MS, default 2000. */
  probeTimeoutMs: number;
  /**
   * Connect + query deadline of the checks of planned workflows and of verification (prechecks,
   * pgpool views, verify writes): they may wait for a slow answer; failure detection must not.
   * PGWARDEN_CHECK_TIMEOUT_MS, default 5000.
   */
  checkTimeoutMs: number;
  /** Pause between two probe rounds while a failure is being confirmed. PGWARDEN_PROBE_RETRY_DELAY_MS, default 250. */
  probeRetryDelayMs: number;
  /**
   * How long Assess keeps probing a primary that times out while standbys are still connected to it:
   * longer than wal_receiver_timeout (5 s), after which the standbys of a dead host disconnect.
   * PGWARDEN_CONFIRM_WINDOW_MS, default 8000.
   */
  confirmWindowMs: number;
  /**
   * pgpool's failover_command, for the primary a planned switch stops: how long it waits for the
   * promotion to be recorded (under the pgpool-hook Lambda's timeout), and how often it looks.
   * PGWARDEN_HOOK_SWITCH_WAIT_MS, default 8000; PGWARDEN_HOOK_POLL_MS, default 100 (Parameter Store:
   * 10 reads/s per pgpool hook).
   */
  hookSwitchWaitMs: number;
  hookPollMs: number;
  /** How long every pgpool gets to route to the new primary before the workflow intervenes. PGWARDEN_PGPOOL_WAIT_MS, default 20000. */
  pgpoolWaitMs: number;
  /** PGWARDEN_VERIFY_TIMEOUT_MS, default 15000. */
  verifyTimeoutMs: number;
  /** PGWARDEN_LEASE_MS, default 300000. */
  leaseMs: number;
  /**
   * Strict synchronous mode: a failover whose other standbys are all unreachable keeps the quorum
   * over them (commits wait until one is back) instead of running asynchronous. On by default (the
   * AWS stack); the lab profile turns it off unless asked. PGWARDEN_SYNC_STRICT, default 1.
   */
  syncStrict: boolean;
  /**
   * Promote and repoint over the steps' SQL connections (functions/lib/sql-node.ts), SSM only when
   * that fails; 0 = always through the node command (SSM), as before (the bench measures both).
   * PGWARDEN_NODE_ACTIONS_OVER_SQL, default 1.
   */
  nodeActionsOverSql: boolean;
  /**
   * The failover's warm-up invokes open the election's and the promotion's SQL sessions while the old
   * primary is fenced (functions/lib/session-cache.ts); 0 = those steps connect when they run.
   * PGWARDEN_WARM_SESSIONS, default 1.
   */
  warmSessions: boolean;
  /** Seconds a node command may take (fence, promote, follow). PGWARDEN_NODE_COMMAND_TIMEOUT_MS, default 60000. */
  nodeCommandTimeoutMs: number;
  /**
   * How long one poll step waits inside its Lambda for a long node command (rejoin, clone) before
   * returning "still running" to the workflow, which polls again (functions/lib/long-command.ts).
   * PGWARDEN_COMMAND_POLL_WAIT_MS, default 300000.
   */
  commandPollWaitMs: number;
  /** Re-attach a standby a pgpool detached while it streams (functions/probe/heal.ts); 0 = off. PGWARDEN_HEAL, default 1. */
  heal: boolean;
  /** After starting a re-attach of a node, how long before another attempt for the same node. PGWARDEN_HEAL_BACKOFF_MS, default 120000. */
  healBackoffMs: number;
  /**
   * The prober starts a failover itself when the primary stays unwritable this long with no
   * workflow holding the cluster (an alarm fires once; functions/probe/rearm.ts). 0 = off.
   * PGWARDEN_REARM_AFTER_MS, default 60000.
   */
  rearmAfterMs: number;
  /**
   * Alarm-driven scaling keeps the standbys within these bounds (operators may go beyond by hand).
   * PGWARDEN_MIN_STANDBYS, default 2; PGWARDEN_MAX_STANDBYS, default 4.
   */
  minStandbys: number;
  maxStandbys: number;
  /**
   * The probe Lambda's pause between two rounds within its minute (functions/probe/handler.ts).
   * PGWARDEN_PROBE_EVERY_S (seconds), default 2.
   */
  probeEveryMs: number;
  /**
   * A switchover refuses a target further behind than this, unless its input says otherwise.
   * PGWARDEN_SWITCHOVER_MAX_LAG_BYTES, default 16 MiB.
   */
  switchoverMaxLagBytes: number;
}

/** Values for settings the environment does not set: a runtime's profile (configureSettings). */
export type SettingsProfile = Partial<Settings>;

let configured: SettingsProfile = {};

/**
 * The profile settings() uses from now on in this process (the lab's control plane calls it once at
 * start). A variable set in the environment still wins.
 */
export function configureSettings(profile: SettingsProfile): void {
  configured = { ...profile };
}

/**
 * The settings, read now: each from its environment variable when that is set, else from the profile,
 * else the default. A variable set but empty means the default (as before profiles: the lab never
 * overrode a variable that was set, even empty). A malformed variable throws, naming it.
 */
export function settings(env: EnvSource = process.env, profile: SettingsProfile = configured): Settings {
  const num = (name: string, dflt: number, given: number | undefined): number => {
    const v = env[name];
    if (v === undefined) return given ?? dflt;
    if (v === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`environment variable ${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  const flag = (name: string, dflt: boolean, given: boolean | undefined): boolean =>
    num(name, dflt ? 1 : 0, given === undefined ? undefined : given ? 1 : 0) > 0;
  const p = profile;
  return {
    probeTimeoutMs: num('PGWARDEN_PROBE_TIMEOUT_MS', 2000, p.probeTimeoutMs),
    checkTimeoutMs: num('PGWARDEN_CHECK_TIMEOUT_MS', 5000, p.checkTimeoutMs),
    probeRetryDelayMs: num('PGWARDEN_PROBE_RETRY_DELAY_MS', 250, p.probeRetryDelayMs),
    confirmWindowMs: num('PGWARDEN_CONFIRM_WINDOW_MS', 8000, p.confirmWindowMs),
    hookSwitchWaitMs: num('PGWARDEN_HOOK_SWITCH_WAIT_MS', 8000, p.hookSwitchWaitMs),
    hookPollMs: num('PGWARDEN_HOOK_POLL_MS', 100, p.hookPollMs),
    pgpoolWaitMs: num('PGWARDEN_PGPOOL_WAIT_MS', 20000, p.pgpoolWaitMs),
    verifyTimeoutMs: num('PGWARDEN_VERIFY_TIMEOUT_MS', 15000, p.verifyTimeoutMs),
    leaseMs: num('PGWARDEN_LEASE_MS', 300000, p.leaseMs),
    syncStrict: flag('PGWARDEN_SYNC_STRICT', true, p.syncStrict),
    nodeActionsOverSql: flag('PGWARDEN_NODE_ACTIONS_OVER_SQL', true, p.nodeActionsOverSql),
    warmSessions: flag('PGWARDEN_WARM_SESSIONS', true, p.warmSessions),
    nodeCommandTimeoutMs: num('PGWARDEN_NODE_COMMAND_TIMEOUT_MS', 60000, p.nodeCommandTimeoutMs),
    commandPollWaitMs: num('PGWARDEN_COMMAND_POLL_WAIT_MS', 300000, p.commandPollWaitMs),
    heal: flag('PGWARDEN_HEAL', true, p.heal),
    healBackoffMs: num('PGWARDEN_HEAL_BACKOFF_MS', 120000, p.healBackoffMs),
    rearmAfterMs: num('PGWARDEN_REARM_AFTER_MS', 60000, p.rearmAfterMs),
    minStandbys: num('PGWARDEN_MIN_STANDBYS', 2, p.minStandbys),
    maxStandbys: num('PGWARDEN_MAX_STANDBYS', 4, p.maxStandbys),
    probeEveryMs:
      num('PGWARDEN_PROBE_EVERY_S', 2, p.probeEveryMs === undefined ? undefined : p.probeEveryMs / 1000) * 1000,
    switchoverMaxLagBytes: num('PGWARDEN_SWITCHOVER_MAX_LAG_BYTES', 16 * 1024 * 1024, p.switchoverMaxLagBytes),
  };
}
