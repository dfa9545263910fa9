/**
 * What the planned workflows (switchover, rejoin, maintenance, scale out/in) share: their input, the
 * cluster's lease (one workflow acts on a cluster at a time; a second one is refused, never queued
 * behind a half-done change), the pause switch, and small node helpers.
 */
import { compareLsn, withClient, type Endpoint } from '../lib/db';
import { StepRefusal } from '../lib/handler';
import { parseResult } from '../lib/node-result';
import type { DbCredentials, Deps, NodeAction } from '../lib/ports';
import { settings } from '../lib/settings';
import { withEvent, type NodeSpec, type Topology } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';

export type PlannedWorkflow = 'switchover' | 'rejoin' | 'maintenance' | 'scale-out' | 'scale-in';

export interface PlannedInput {
  cluster: string;
  workflow: PlannedWorkflow;
  executionName: string;
  reason: string;
  /** When the operator (or sensor) asked, ISO 8601. */
  at: string;
}

/** Refusals are not retried (ASL Retry lists them with MaxAttempts 0) and end as "<Workflow>Refused". */
export const REFUSED = 'Refused';

export function refuse(msg: string): never {
  throw new StepRefusal(REFUSED, msg);
}

export function validatePlanned(input: PlannedInput, deps: Pick<Deps, 'cluster'>): void {
  if (!input || typeof input !== 'object') throw new StepRefusal('InvalidInput', 'workflow input must be an object');
  if (input.cluster !== deps.cluster)
    throw new StepRefusal(
      'InvalidInput',
      `workflow input is for cluster "${input.cluster}", this deployment manages "${deps.cluster}"`,
    );
  if (typeof input.executionName !== 'string' || !input.executionName)
    throw new StepRefusal('InvalidInput', 'workflow input has no executionName');
}

/** Why `workflow` may not act now, or undefined. */
export function blocker(t: Topology, execution: string, now: Date): string | undefined {
  if (t.paused) return `automation is paused (${t.pausedReason ?? 'no reason given'})`;
  if (t.lease && t.lease.execution !== execution && Date.parse(t.lease.expiresAt) > now.getTime())
    return `${t.lease.workflow} ${t.lease.execution} is already acting on the cluster`;
  return undefined;
}

/**
 * Take ('take': the trigger and the first step) or renew the cluster's lease for this execution,
 * compare-and-set on the topology. Refused when automation is paused or another workflow holds the
 * lease. Every step that changes the cluster renews it, so that a pause stops a long workflow between
 * steps.
 */
export async function holdLease(
  deps: Deps,
  workflow: PlannedWorkflow,
  execution: string,
  mode: 'take' | 'renew' = 'renew',
): Promise<Topology> {
  let why: string | undefined;
  const t = await updateTopology(deps, (cur) => {
    const now = deps.now();
    why = blocker(cur, execution, now);
    // Only the first step takes the lease; a later step of an execution that was aborted (its lease
    // released, e.g. a Map iteration still running after the Map failed) must not act.
    if (!why && mode === 'renew' && cur.lease?.execution !== execution)
      why = `execution ${execution} no longer holds the cluster's lease (aborted or expired)`;
    if (why) return undefined;
    return {
      ...cur,
      lease: {
        workflow: cur.lease?.execution === execution ? cur.lease.workflow : workflow,
        execution,
        since: cur.lease?.execution === execution ? cur.lease.since : now.toISOString(),
        expiresAt: new Date(now.getTime() + settings().leaseMs).toISOString(),
      },
    };
  });
  if (why) refuse(`${workflow} refused: ${why}`);
  return t;
}

/** Record the outcome in the topology history and release the lease if this execution holds it. */
export async function release(
  deps: Deps,
  execution: string,
  kind: string,
  detail: Record<string, unknown>,
  change?: (t: Topology) => void,
): Promise<Topology> {
  return updateTopology(deps, (cur) => {
    const next = withEvent(cur, kind, { execution, ...detail }, deps.now());
    if (next.lease?.execution === execution) delete next.lease;
    change?.(next);
    return next;
  });
}

/** Run a node action; a non-zero exit is an error naming the node and the script's last words. */
export async function nodeAction(
  deps: Deps,
  node: { name: string; instanceId: string },
  action: NodeAction,
  params: Record<string, string>,
  timeoutMs = settings().nodeCommandTimeoutMs,
): Promise<Record<string, string>> {
  const r = await deps.nodes.run(node.instanceId, action, params, { timeoutMs });
  if (!r.ok) {
    const why = r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`;
    throw new Error(`${action} on ${node.name} failed: ${why}`);
  }
  return parseResult(r.stdout);
}

export function live(t: Topology): NodeSpec[] {
  return t.nodes.filter((n) => n.role !== 'removed');
}

export function primaryOf(t: Topology): NodeSpec {
  const p = t.nodes.find((n) => n.name === t.primary);
  if (!p) throw new Error(`topology names primary "${t.primary}" but has no such node`);
  return p;
}

/** synchronous_standby_names for a primary: ANY q over the given standbys ('' = asynchronous). */
export function quorumOver(t: Topology, standbys: string[]): string {
  const q = Math.min(t.syncQuorum, standbys.length);
  return q > 0 ? `ANY ${q} (${standbys.join(', ')})` : '';
}

export async function sql<T = Record<string, unknown>>(
  ep: Endpoint,
  creds: DbCredentials,
  text: string,
  params: unknown[] = [],
  timeoutMs = settings().checkTimeoutMs,
): Promise<T[]> {
  return withClient(ep, creds, timeoutMs, async (c) => (await c.query(text, params)).rows as T[], 'postgres');
}

/** Set the primary's synchronous quorum over `standbys` (ALTER SYSTEM + reload; no restart). */
export async function setQuorum(deps: Deps, t: Topology, standbys: string[]): Promise<string> {
  const names = quorumOver(t, standbys);
  const creds = await deps.secrets.admin();
  await withClient(
    primaryOf(t),
    creds,
    settings().checkTimeoutMs,
    async (c) => {
      await c.query(`alter system set synchronous_standby_names = ${quoteLiteral(names)}`);
      await c.query('select pg_reload_conf()');
    },
    'postgres',
  );
  return names;
}

/** The physical replication slot a standby streams through (lib.sh slot_name). */
export function slotName(node: string): string {
  return `pgw_${node.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export interface ReplicaState {
  name: string;
  state: string;
  replayLagBytes: number;
}

/** pg_stat_replication of the primary, by application_name. */
export async function replicas(deps: Deps, t: Topology): Promise<ReplicaState[]> {
  const creds = await deps.secrets.admin();
  const rows = await sql<{ name: string; state: string; lag: string | null }>(
    primaryOf(t),
    creds,
    `select application_name as name, state,
            pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, '0/0'))::bigint::text as lag
       from pg_stat_replication`,
  );
  return rows.map((r) => ({ name: r.name, state: r.state, replayLagBytes: Number(r.lag ?? Infinity) }));
}

/** Poll until `node` streams from the primary with a replay lag under `maxLagBytes`. */
export async function waitCaughtUp(
  deps: Deps,
  node: string,
  maxLagBytes: number,
  timeoutMs: number,
): Promise<{ lagBytes: number; waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const t = await deps.topology.get(deps.cluster);
    const r = (await replicas(deps, t).catch(() => [])).find((x) => x.name === node);
    if (r && r.state === 'streaming' && r.replayLagBytes <= maxLagBytes)
      return { lagBytes: r.replayLagBytes, waitedMs: Date.now() - t0 };
    const last = r ? `${r.state}, ${r.replayLagBytes} bytes behind` : 'not connected to the primary';
    if (Date.now() - t0 > timeoutMs) throw new Error(`${node} did not catch up within ${timeoutMs} ms (${last})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export function lsnAfter(a: string, b: string): boolean {
  return compareLsn(a, b) > 0;
}

export { causeOf } from '../lib/handler';
