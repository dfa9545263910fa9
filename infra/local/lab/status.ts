/** `lab status`: the lab as its nodes, pgpools and services see themselves right now. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { poolStatus } from '../../../functions/lib/db';
import { syncDegraded, type Topology } from '../../../functions/lib/topology';
import type { LabNode, LabPgpool } from './config';
import { sslQuery } from './connections';
import type { Lab } from './lab';
import { apiHealthy, redisPing } from './services';

export interface NodeStatus {
  name: string;
  port: number;
  up: boolean;
  role: 'primary' | 'standby' | 'down' | 'unreachable';
  expectedRole: string;
  fenced: boolean;
  streaming: boolean;
  upstream?: string;
  timeline?: number;
  currentLsn?: string;
  receiveLsn?: string;
  replayLsn?: string;
  lagBytes?: number;
  replayLagMs?: number;
  syncState?: string;
  connection: string;
  error?: string;
}

export interface PgpoolStatus {
  name: string;
  port: number;
  pcpPort: number;
  up: boolean;
  nodes: {
    id: number;
    name: string;
    status: 'up' | 'down';
    role: string;
    selectCount: number;
    /** backend_weight as configured (pgpool-weight.sh sets 0 to drain a standby). */
    lbWeight: number;
  }[];
  error?: string;
}

export interface LabStatus {
  cluster: string;
  dir: string;
  profile: string;
  automation: string;
  topologyPrimary: string;
  timeline: number;
  /** The synchronous replication in force, and DEGRADED with the reason when weaker than configured. */
  synchronous: string;
  nodes: NodeStatus[];
  pgpools: PgpoolStatus[];
  /** The clients' URL; its password is *** unless the status was asked with secrets (see secretsFile). */
  endpoint: string;
  /** Where the lab's passwords are (PGW_PW_APP, PGW_PW_REDIS, ...): root- or owner-readable only. */
  secretsFile: string;
  services: Record<string, string>;
  redisUp: boolean;
  controlPlaneUp: boolean;
}

/** What `lab status` shows: every node's role, timeline, LSNs and lag, every pgpool's view, the endpoints. */
export async function labStatus(lab: Lab, opts: { showSecrets?: boolean } = {}): Promise<LabStatus> {
  const c = lab.config();
  const topo = lab.readTopology();
  const nodes = await Promise.all(c.nodes.map((n) => nodeStatus(lab, n, topo)));
  const primary = nodes.find((n) => n.role === 'primary');
  if (primary) {
    const rep = await lab
      .query<{
        application_name: string;
        state: string;
        sync_state: string;
        lag_bytes: string;
        replay_lag_ms: number | null;
      }>(
        primary.name,
        `select application_name, state, sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint as lag_bytes,
              (extract(epoch from replay_lag) * 1000)::float8 as replay_lag_ms
         from pg_stat_replication`,
      )
      .catch(() => []);
    for (const r of rep) {
      const n = nodes.find((x) => x.name === r.application_name);
      if (!n) continue;
      n.lagBytes = Number(r.lag_bytes);
      n.replayLagMs = r.replay_lag_ms ?? 0;
      n.syncState = r.sync_state;
    }
  }
  const pgpools = await Promise.all(c.pgpools.map((p) => pgpoolStatus(lab, p)));
  const secrets = lab.secrets();
  // A status is pasted into tickets and chats: passwords only when asked for (lab status --show-secrets).
  const pw = (k: 'PGW_PW_APP' | 'PGW_PW_REDIS') => (opts.showSecrets ? secrets[k] : '***');
  return {
    cluster: c.cluster,
    dir: lab.dir,
    profile: c.profile.name,
    automation: topo.paused ? `paused${topo.pausedReason ? ` (${topo.pausedReason})` : ''}` : 'active',
    topologyPrimary: topo.primary,
    timeline: topo.timeline,
    synchronous: synchronousLine(topo),
    nodes,
    pgpools,
    endpoint: `postgresql://app:${pw('PGW_PW_APP')}@127.0.0.1:${c.pgpools[0].port}/app${sslQuery(lab)}`,
    secretsFile: lab.secretsFile,
    services: {
      redis: `redis://:${pw('PGW_PW_REDIS')}@127.0.0.1:${c.redisPort}`,
      // Without the token: the status is printed and logged.
      controlPlane: `http://127.0.0.1:${c.apiPort}`,
      xray: `udp://127.0.0.1:${c.xrayPort}`,
      app: `http://127.0.0.1:${c.appPort}`,
    },
    redisUp: await redisPing(lab),
    controlPlaneUp: await apiHealthy(lab),
  };
}

async function nodeStatus(lab: Lab, n: LabNode, topo: Topology): Promise<NodeStatus> {
  const s: NodeStatus = {
    name: n.name,
    port: n.port,
    up: false,
    role: 'down',
    fenced: existsSync(join(lab.dataDir(n.name), 'pgwarden.fenced')),
    expectedRole: topo.nodes.find((x) => x.name === n.name)?.role ?? 'standby',
    streaming: false,
    connection: `postgresql://pgwarden:***@127.0.0.1:${n.port}/postgres`,
  };
  if (!lab.postmasterPid(n.name)) return s;
  try {
    const [r] = await lab.query<{
      in_recovery: boolean;
      current_lsn: string | null;
      receive_lsn: string | null;
      replay_lsn: string | null;
      tli: number | null;
      wr_status: string | null;
      sender: string | null;
    }>(
      n.name,
      `select pg_is_in_recovery() as in_recovery,
              case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as current_lsn,
              pg_last_wal_receive_lsn()::text as receive_lsn, pg_last_wal_replay_lsn()::text as replay_lsn,
              coalesce((select received_tli from pg_stat_wal_receiver),
                       case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint())
                            else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end) as tli,
              (select status from pg_stat_wal_receiver) as wr_status,
              (select sender_host || ':' || sender_port from pg_stat_wal_receiver) as sender`,
      [],
      lab.config().profile.probeTimeoutMs * 4,
    );
    s.up = true;
    s.role = r.in_recovery ? 'standby' : 'primary';
    s.timeline = r.tli ?? undefined;
    s.currentLsn = r.current_lsn ?? undefined;
    s.receiveLsn = r.receive_lsn ?? undefined;
    s.replayLsn = r.replay_lsn ?? undefined;
    s.streaming = r.wr_status === 'streaming';
    const up = lab.config().nodes.find((x) => `127.0.0.1:${x.port}` === r.sender);
    s.upstream = up?.name ?? r.sender ?? undefined;
  } catch (e) {
    // Running but not answering (frozen, overloaded, starting up): not the same as down.
    s.role = 'unreachable';
    s.error = (e as Error).message;
  }
  return s;
}

/**
 * A pgpool's view of its backends, from its shared memory and configuration: SHOW POOL_BACKEND_STATS
 * and PGPOOL SHOW backend, on one connection. Not SHOW POOL_NODES, which connects to every backend
 * first for its pg_status and pg_role columns: with two standbys cut off from the pgpools it took
 * 4.3 s a pgpool (connect_timeout 2 s each), just when someone runs lab status to see what happened.
 */
async function pgpoolStatus(lab: Lab, p: LabPgpool): Promise<PgpoolStatus> {
  const out: PgpoolStatus = { name: p.name, port: p.port, pcpPort: p.pcpPort, up: false, nodes: [] };
  try {
    const c = await lab.client(p.name, { user: 'pgpool', database: 'postgres', timeoutMs: 3000 });
    try {
      // Bounded: a pgpool that accepts and never answers is reported with the error, not waited on.
      const show = async <T>(text: string) =>
        (await c.query({ text, query_timeout: 3000 } as { text: string })).rows as T[];
      const stats = await show<Record<string, string>>('SHOW POOL_BACKEND_STATS');
      const conf = await show<{ item: string; value: string }>('PGPOOL SHOW backend');
      const weight = new Map(conf.map((r) => [r.item, Number(r.value)]));
      out.up = true;
      const names = new Map(lab.config().nodes.map((n) => [String(n.port), n.name]));
      out.nodes = stats.map((r) => ({
        id: Number(r.node_id),
        name: names.get(String(r.port)) ?? `${r.hostname}:${r.port}`,
        status: poolStatus(r.status),
        role: r.role,
        selectCount: Number(r.select_cnt),
        lbWeight: weight.get(`backend_weight${r.node_id}`) ?? NaN,
      }));
    } finally {
      await c.end().catch(() => undefined);
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

function synchronousLine(t: Topology): string {
  const degraded = syncDegraded(t);
  if (degraded) return `DEGRADED: ${degraded}`;
  const r = t.sync;
  if (!r)
    return t.syncQuorum > 0 ? `ANY ${t.syncQuorum} configured (nothing recorded yet)` : 'asynchronous (configured)';
  return r.quorum > 0 ? `ANY ${r.quorum} (${r.standbys.join(', ')}) in force` : 'asynchronous (configured)';
}

/** `lab status` as text: the nodes' table, each pgpool's view, endpoints and services. */
export function renderStatus(s: LabStatus): string {
  const rows: string[][] = [
    ['node', 'role', 'port', 'timeline', 'lsn (current/received/replayed)', 'upstream', 'lag', 'sync', 'note'],
  ];
  for (const n of s.nodes) {
    const lsn =
      n.role === 'primary' ? (n.currentLsn ?? '') : n.up ? `${n.receiveLsn ?? '-'} / ${n.replayLsn ?? '-'}` : '';
    const lag =
      n.role === 'standby' && n.lagBytes !== undefined ? `${n.lagBytes} B ${Math.round(n.replayLagMs ?? 0)} ms` : '';
    const note = [n.fenced ? 'FENCED' : '', n.role === 'standby' && !n.streaming ? 'not streaming' : '', n.error ?? '']
      .filter(Boolean)
      .join(' ');
    rows.push([
      n.name,
      n.role,
      String(n.port),
      n.timeline !== undefined ? String(n.timeline) : '',
      lsn,
      n.upstream ?? '',
      lag,
      n.syncState ?? '',
      note,
    ]);
  }
  const out = [
    `cluster ${s.cluster} (profile ${s.profile})  automation: ${s.automation}  primary of record: ${s.topologyPrimary}, timeline ${s.timeline}`,
    `synchronous replication: ${s.synchronous}`,
    table(rows),
    '',
  ];
  for (const p of s.pgpools) {
    const pr: string[][] = [[`${p.name} :${p.port} (pcp :${p.pcpPort})`, 'status', 'role', 'selects', 'lb weight']];
    if (!p.up) pr.push([p.error ?? 'down', '', '', '', '']);
    for (const n of p.nodes)
      pr.push([`  ${n.id} ${n.name}`, n.status, n.role, String(n.selectCount), String(n.lbWeight)]);
    out.push(table(pr), '');
  }
  out.push(`endpoint (clients use this): ${s.endpoint}`);
  for (const n of s.nodes) out.push(`  ${n.name}: ${n.connection}`);
  out.push(`redis: ${s.services.redis} (${s.redisUp ? 'up' : 'down'})`);
  out.push(`control plane: ${s.services.controlPlane} (${s.controlPlaneUp ? 'up' : 'down'})`);
  out.push(`x-ray collector: ${s.services.xray}    app: ${s.services.app}`);
  out.push(`state: ${s.dir}`);
  out.push(`passwords: ${s.secretsFile} (or lab status --show-secrets)`);
  return out.join('\n');
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
