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
    /** Attempts to reach a suspect primary before it counts as unreachable (debounce). */
    probeAttempts: num('PGWARDEN_PROBE_ATTEMPTS', 2),
    probeRetryDelayMs: num('PGWARDEN_PROBE_RETRY_DELAY_MS', 150),
    /** A standby whose WAL receiver heard from the primary within this window still "hears" it. */
    hearingWindowMs: num('PGWARDEN_HEARING_WINDOW_MS', 3000),
    /** How long every pgpool gets to route to the new primary before the workflow intervenes. */
    pgpoolWaitMs: num('PGWARDEN_PGPOOL_WAIT_MS', 20000),
    verifyTimeoutMs: num('PGWARDEN_VERIFY_TIMEOUT_MS', 15000),
    leaseMs: num('PGWARDEN_LEASE_MS', 300000),
    /** Seconds a node command may take (fence, promote, follow). */
    nodeCommandTimeoutMs: num('PGWARDEN_NODE_COMMAND_TIMEOUT_MS', 60000),
  };
}
