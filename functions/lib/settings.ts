/** Timings of the workflow steps, from the environment (the lab profile sets shorter ones). */
function num(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`environment variable ${name} must be a non-negative number, got "${v}"`);
  return n;
}

export function settings() {
  return {
    /** Connect + query deadline of one probe of a node. */
    probeTimeoutMs: num('PGWARDEN_PROBE_TIMEOUT_MS', 2000),
    /**
     * Connect + query deadline of the checks of planned workflows and of verification (prechecks,
     * pgpool views, verify writes): they may wait for a slow answer; failure detection must not.
     */
    checkTimeoutMs: num('PGWARDEN_CHECK_TIMEOUT_MS', 5000),
    /** Pause between two probe rounds while a failure is being confirmed. */
    probeRetryDelayMs: num('PGWARDEN_PROBE_RETRY_DELAY_MS', 250),
    /**
     * How long Assess keeps probing a primary that times out while standbys are still connected to it:
     * longer than wal_receiver_timeout (5 s), after which the standbys of a dead host disconnect.
     */
    confirmWindowMs: num('PGWARDEN_CONFIRM_WINDOW_MS', 8000),
    /**
     * pgpool's failover_command, for the primary a planned switch stops: how long it waits for the
     * promotion to be recorded (under the pgpool-hook Lambda's timeout), and how often it looks.
     */
    hookSwitchWaitMs: num('PGWARDEN_HOOK_SWITCH_WAIT_MS', 8000),
    hookPollMs: num('PGWARDEN_HOOK_POLL_MS', 100), // Parameter Store: 10 reads/s per pgpool hook
    /** How long every pgpool gets to route to the new primary before the workflow intervenes. */
    pgpoolWaitMs: num('PGWARDEN_PGPOOL_WAIT_MS', 20000),
    verifyTimeoutMs: num('PGWARDEN_VERIFY_TIMEOUT_MS', 15000),
    leaseMs: num('PGWARDEN_LEASE_MS', 300000),
    /**
     * Strict synchronous mode: a failover whose other standbys are all unreachable keeps the quorum
     * over them (commits wait until one is back) instead of running asynchronous. On by default (the
     * AWS stack); the lab profile turns it off unless asked.
     */
    syncStrict: num('PGWARDEN_SYNC_STRICT', 1) > 0,
    /**
     * Promote and repoint over the steps' SQL connections (functions/lib/sql-node.ts), SSM only when
     * that fails; 0 = always through the node command (SSM), as before (the bench measures both).
     */
    nodeActionsOverSql: num('PGWARDEN_NODE_ACTIONS_OVER_SQL', 1) > 0,
    /** Seconds a node command may take (fence, promote, follow). */
    nodeCommandTimeoutMs: num('PGWARDEN_NODE_COMMAND_TIMEOUT_MS', 60000),
    /**
     * How long one poll step waits inside its Lambda for a long node command (rejoin, clone) before
     * returning "still running" to the workflow, which polls again (functions/lib/long-command.ts).
     */
    commandPollWaitMs: num('PGWARDEN_COMMAND_POLL_WAIT_MS', 300000),
    /** Re-attach a standby a pgpool detached while it streams (functions/probe/heal.ts); 0 = off. */
    heal: num('PGWARDEN_HEAL', 1) > 0,
    /** After starting a re-attach of a node, how long before another attempt for the same node. */
    healBackoffMs: num('PGWARDEN_HEAL_BACKOFF_MS', 120000),
    /**
     * The prober starts a failover itself when the primary stays unwritable this long with no
     * workflow holding the cluster (an alarm fires once; functions/probe/rearm.ts). 0 = off.
     */
    rearmAfterMs: num('PGWARDEN_REARM_AFTER_MS', 60000),
    /** Alarm-driven scaling keeps the standbys within these bounds (operators may go beyond by hand). */
    minStandbys: num('PGWARDEN_MIN_STANDBYS', 2),
    maxStandbys: num('PGWARDEN_MAX_STANDBYS', 4),
  };
}
