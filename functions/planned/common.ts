/**
 * What the planned workflows (switchover, rejoin, maintenance, scale out/in) share: their input, the
 * cluster's lease (one workflow acts on a cluster at a time; a second one is refused, never queued
 * behind a half-done change), the pause switch, and small node helpers.
 */
import { compareLsn, replicationOf, withClient, type Endpoint, type Replica } from '../lib/db';
import { StepRefusal } from '../lib/handler';
import { pollUntil, wallClock, type Clock } from '../lib/poll';
import type { DbCredentials, Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { syncRecord, type NodeSpec, type Topology } from '../lib/topology';
import { updateTopology } from '../lib/topology-update';
import { REFUSED, type WorkflowKind } from '../lib/lease';

export type PlannedWorkflow = Exclude<WorkflowKind, 'failover'>;

export interface PlannedInput {
  cluster: string;
  workflow: PlannedWorkflow;
  executionName: string;
  reason: string;
  /** When the operator (or sensor) asked, ISO 8601. */
  at: string;
}

export { REFUSED, blocker, holdLease, releaseLease as release } from '../lib/lease';

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

/** Node actions: one runner for every step (a non-zero exit names the node and the script's last words). */
export { nodeAction, NodeActionFailed } from '../lib/node-action';

/**
 * Before a detached standby is stopped or restarted: wait until no client session has reached it for
 * `quietMs`. A pgpool session that began just before the detach took its view of the backends then
 * and still opens (and reads) its connection to this node; a fast stop in that moment ends that
 * client's session with "unable to read data from DB node N". Sessions of pgwarden's own role (the
 * prober, the steps) do not count. Gives up, and says so, after `deadlineMs`. Time comes from `clock`
 * (pass the Deps; the wall clock default is for maintenance/maintain-node.ts until it passes them).
 */
export async function waitNoNewSessions(
  node: NodeSpec,
  creds: DbCredentials,
  {
    clock = wallClock,
    quietMs = 1000,
    deadlineMs = 15_000,
  }: { clock?: Clock; quietMs?: number; deadlineMs?: number } = {},
): Promise<{ quietAfterMs: number; timedOut: boolean }> {
  let pauseMs = 0;
  return pollUntil<{ quietAfterMs: number; timedOut: boolean }>(
    clock,
    async (poll) => {
      const [r] = await sql<{ ms: number | null }>(
        node,
        creds,
        `select (extract(epoch from now() - max(backend_start)) * 1000)::float8 as ms from pg_stat_activity
          where backend_type = 'client backend' and usename is distinct from current_user`,
      );
      const ms = r.ms;
      if (ms === null || ms >= quietMs) return { quietAfterMs: poll.elapsedMs(), timedOut: false };
      pauseMs = Math.min(200, quietMs - ms + 10);
      return undefined;
    },
    {
      timeoutMs: deadlineMs,
      intervalMs: () => pauseMs,
      onTimeout: (poll) => ({ quietAfterMs: poll.elapsedMs(), timedOut: true }),
    },
  );
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

/**
 * Set the primary's synchronous quorum over `standbys` (ALTER SYSTEM + reload; no restart), then
 * record it in the topology as the set in force, from the primary's WAL position after the reload
 * (what the election proves zero loss against: functions/failover/elect.ts).
 */
export async function setQuorum(deps: Deps, t: Topology, standbys: string[], by = 'pgwarden'): Promise<string> {
  const names = quorumOver(t, standbys);
  const creds = await deps.secrets.admin();
  const lsn = await withClient(
    primaryOf(t),
    creds,
    settings().checkTimeoutMs,
    async (c) => {
      await c.query(`alter system set synchronous_standby_names = ${quoteLiteral(names)}`);
      await c.query('select pg_reload_conf()');
      // The reload is asynchronous: wait until this backend sees the new value, so that every
      // commit after the LSN below waits under it.
      for (let i = 0; i < 200; i++) {
        const r = await c.query('select pg_reload_conf(), current_setting($1) as v', ['synchronous_standby_names']);
        if (r.rows[0].v === names) break;
        await deps.sleep(10);
      }
      return (await c.query('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn as string;
    },
    'postgres',
  );
  await updateTopology(deps, (cur) => {
    if (cur.primary !== t.primary) return undefined;
    return { ...cur, sync: syncRecord(cur, t.primary, names, lsn, by, deps.now()) };
  });
  return names;
}

/** A standby's replication slot (one definition in TypeScript; infra/node/lib.sh's slot_name in shell). */
export { slotName } from '../lib/sql-node';

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export type ReplicaState = Replica;

/** pg_stat_replication of the primary, by application_name. */
export async function replicas(deps: Deps, t: Topology): Promise<ReplicaState[]> {
  return replicationOf(primaryOf(t), await deps.secrets.admin(), settings().checkTimeoutMs);
}

/** Poll until `node` streams from the primary with a replay lag under `maxLagBytes`. */
export async function waitCaughtUp(
  deps: Deps,
  node: string,
  maxLagBytes: number,
  timeoutMs: number,
): Promise<{ lagBytes: number; waitedMs: number }> {
  let last = '';
  return pollUntil(
    deps,
    async (poll) => {
      const t = await deps.topology.get(deps.cluster);
      const r = (await replicas(deps, t).catch(() => [])).find((x) => x.name === node);
      if (r && r.state === 'streaming' && r.replayLagBytes <= maxLagBytes)
        return { lagBytes: r.replayLagBytes, waitedMs: poll.elapsedMs() };
      last = r ? `${r.state}, ${r.replayLagBytes} bytes behind` : 'not connected to the primary';
      return undefined;
    },
    {
      timeoutMs,
      intervalMs: 100,
      onTimeout: () => {
        throw new Error(`${node} did not catch up within ${timeoutMs} ms (${last})`);
      },
    },
  );
}

export function lsnAfter(a: string, b: string): boolean {
  return compareLsn(a, b) > 0;
}

export { causeOf } from '../lib/handler';

/** The node a state names: a rejoin names it, scale-out carries its spec. */
export function nodeName(state: { node?: string | { name: string } }): string {
  const n = state.node;
  const name = typeof n === 'string' ? n : n?.name;
  if (!name) throw new Error('workflow state names no node');
  return name;
}
