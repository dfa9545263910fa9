/**
 * One round of the custom SQL metrics (definitions.json) over every node, plus PgpoolNodesDown from
 * every pgpool, published in one call to the metrics sink.
 *
 * Per node: one connection per database its metrics use (the admin database first, it also tells the
 * node's actual role), and the node's queries run one after the other on it. Not one multi-statement
 * query: PostgreSQL runs those in one implicit transaction, so a single failing query would abort the
 * rest; sequential queries on one connection cost a few milliseconds more and fail one at a time.
 * Nodes and pgpools are collected in parallel.
 */
import { pgpoolBackends, withClient, type Endpoint } from '../lib/db';
import { METRIC_NAMESPACE, type DbCredentials, type Deps, type MetricDatum } from '../lib/ports';
import type { NodeSpec, PgpoolSpec, Topology } from '../lib/topology';
import { CounterMemory, counterDelta, counterRate } from './counters';
import { partitionDefinitions, type MetricDefinition, type RejectedDefinition } from './definitions';
import { datum, type MetricSpec } from '../lib/metric-spec';

/** Connect and client-side query deadline; the Lambda has 60 s for the round. */
export const QUERY_TIMEOUT_MS = 5000;
/**
 * Server-side deadline of each metric query, below the client's: PostgreSQL cancels a slow query
 * ("canceling statement due to statement timeout") and the connection stays usable for the next one.
 */
export const STATEMENT_TIMEOUT_MS = 3000;

/** Published by the collector itself, beside the definitions' metrics. */
export const COLLECT_METRICS = {
  PgpoolNodesDown: { name: 'PgpoolNodesDown', unit: 'Count', dimensions: ['Cluster'] },
  PgpoolNodesDownPerPgpool: { name: 'PgpoolNodesDown', unit: 'Count', dimensions: ['Cluster', 'Pgpool'] },
  MetricQueryErrors: { name: 'MetricQueryErrors', unit: 'Count', dimensions: ['Cluster'] },
} satisfies Record<string, MetricSpec>;

// Previous counter samples, kept while the Lambda container stays warm.
const counters = new CounterMemory();

/** Forget the previous counter samples (the next round is like a cold start). */
export function resetCounters(): void {
  counters.clear();
}

interface Round {
  deps: Deps;
  creds: DbCredentials;
  /** Sessions through a pgpool: the pgpool role's. */
  pgpoolCreds: DbCredentials;
  data: MetricDatum[];
  errors: number;
  /** Values published per definition, for the Cluster-wide maximum. */
  values: Map<MetricDefinition, number[]>;
  at: Date;
}

/**
 * `definitions`: the raw declarations (default: definitions.json) or already validated ones. Invalid
 * declarations are skipped, logged with their problems and counted in MetricQueryErrors.
 */
export async function collectMetrics(deps: Deps, definitions: unknown = undefined): Promise<MetricDatum[]> {
  const { valid: defs, rejected } = Array.isArray(definitions)
    ? { valid: definitions as MetricDefinition[], rejected: [] as RejectedDefinition[] }
    : partitionDefinitions(definitions ?? undefined);
  for (const r of rejected) deps.log('metrics: invalid definition skipped', { metric: r.name, problems: r.problems });
  const t = await deps.topology.get(deps.cluster);
  const round: Round = {
    deps,
    creds: await deps.secrets.admin(),
    pgpoolCreds: await deps.secrets.pgpool(),
    data: [],
    errors: rejected.length,
    values: new Map(),
    at: deps.now(),
  };
  const live = t.nodes.filter((n) => n.role !== 'removed');
  await Promise.all([
    ...live.map((n) => collectNode(round, n, n.name === t.primary, defs)),
    ...t.pgpools.map((p) => collectPgpool(round, t, p)),
  ]);
  const cluster = { Cluster: deps.cluster };
  for (const d of defs) {
    const vs = round.values.get(d);
    if (d.max && vs?.length)
      round.data.push({ name: d.name, value: Math.max(...vs), unit: d.unit, dimensions: cluster, timestamp: round.at });
  }
  round.data.push(datum(COLLECT_METRICS.MetricQueryErrors, round.errors, cluster, round.at));
  await deps.metrics.put(METRIC_NAMESPACE, round.data);
  return round.data;
}

async function collectNode(round: Round, node: NodeSpec, topologyPrimary: boolean, defs: MetricDefinition[]) {
  const { deps, creds } = round;
  const home = creds.database;
  const databases = [home, ...new Set(defs.map((d) => d.database ?? home).filter((db) => db !== home))];
  let inRecovery: boolean | undefined;
  // Primary metrics only where the topology and the node agree: a stale or promoted-too-early node
  // must not publish cluster-wide figures.
  const applies = (d: MetricDefinition) =>
    d.on === 'all' || (d.on === 'primary' ? topologyPrimary && inRecovery === false : inRecovery === true);

  for (const db of databases) {
    const mine = () => defs.filter((d) => (d.database ?? home) === db && applies(d));
    try {
      await withClient(
        node,
        creds,
        QUERY_TIMEOUT_MS,
        async (c) => {
          await c.query(`set statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
          if (inRecovery === undefined)
            inRecovery = (await c.query('select pg_is_in_recovery() as r')).rows[0].r === true;
          for (const d of mine()) await runQuery(round, node, d, (sql) => c.query(sql) as Promise<Rows | Rows[]>);
        },
        db,
      );
    } catch (e) {
      if (inRecovery === undefined) {
        // A node that is down yields no data; the prober publishes NodeUp.
        deps.log('metrics: node unreachable, skipped', { node: node.name, error: (e as Error).message });
        return;
      }
      const missed = mine().map((d) => d.name);
      round.errors += missed.length;
      deps.log('metrics: database unreachable', {
        node: node.name,
        database: db,
        metrics: missed,
        error: (e as Error).message,
      });
    }
  }
}

type Rows = { rows: Record<string, unknown>[] };
/** A multi-statement query (a user's definition may be one) resolves with one result per statement. */
type Run = (sql: string) => Promise<Rows | Rows[]>;

async function runQuery(round: Round, node: NodeSpec, d: MetricDefinition, run: Run): Promise<void> {
  const { deps } = round;
  const fail = (error: string) => {
    round.errors++;
    deps.log('metrics: query failed', { metric: d.name, node: node.name, error });
  };
  const t0 = performance.now();
  let rows: Record<string, unknown>[];
  try {
    const r = await run(d.sql);
    rows = (Array.isArray(r) ? r[r.length - 1] : r).rows;
  } catch (e) {
    return fail((e as Error).message);
  }
  const elapsedMs = performance.now() - t0;
  const perNode = d.on !== 'primary';
  const base: Record<string, string> = { Cluster: deps.cluster, ...(perNode ? { Node: node.name } : {}) };
  const publish = (value: number, dimensions: Record<string, string>) => {
    round.data.push({ name: d.name, value, unit: d.unit, dimensions, timestamp: round.at });
    round.values.set(d, [...(round.values.get(d) ?? []), value]);
  };

  if (d.kind === 'latency') return publish(Math.round(elapsedMs * 10) / 10, base);
  for (const row of rows) {
    if (!('value' in row)) return fail('the query returns no column "value"');
    if (row.value === null) continue; // no data for this row
    const value = Number(row.value);
    if (!Number.isFinite(value)) return fail(`value ${JSON.stringify(row.value)} is not a number`);
    const dims = { ...base };
    for (const k of d.dimensions ?? []) {
      const v = row[k];
      dims[k] = v === null || v === undefined || v === '' ? 'unknown' : String(v);
    }
    if (d.kind === 'rate' || d.kind === 'delta') {
      const key = `${deps.cluster}|${d.name}|${node.name}|${JSON.stringify(dims)}`;
      const cur = { value, atMs: deps.now().getTime() };
      const prev = counters.swap(key, cur);
      const derived = d.kind === 'rate' ? counterRate(prev, cur) : counterDelta(prev, cur);
      if (derived !== undefined) publish(derived, dims);
    } else {
      publish(value, dims);
    }
  }
}

/** Backends a pgpool reports down although the topology says they serve (primary or standby, not in maintenance). */
async function collectPgpool(round: Round, t: Topology, p: PgpoolSpec): Promise<void> {
  const { deps, pgpoolCreds: creds } = round;
  const serving = new Set(
    t.nodes.filter((n) => (n.role === 'primary' || n.role === 'standby') && !n.maintenance).map((n) => n.backendId),
  );
  try {
    const backends = await pgpoolBackends(p as Endpoint, creds, QUERY_TIMEOUT_MS);
    const down = backends.filter((b) => b.status === 'down' && serving.has(b.id));
    // The Cluster-only series is what the alarm reads (Maximum over the pgpools); the other names the pgpool.
    round.data.push(
      datum(COLLECT_METRICS.PgpoolNodesDown, down.length, { Cluster: deps.cluster }, round.at),
      datum(COLLECT_METRICS.PgpoolNodesDownPerPgpool, down.length, { Cluster: deps.cluster, Pgpool: p.name }, round.at),
    );
    if (down.length)
      deps.log('metrics: pgpool sees serving nodes down', { pgpool: p.name, backends: down.map((b) => b.id) });
  } catch (e) {
    round.errors++;
    deps.log('metrics: pgpool view of its backends failed', { pgpool: p.name, error: (e as Error).message });
  }
}
