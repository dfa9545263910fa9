/**
 * The custom SQL metrics against a real lab cluster (PostgreSQL 15 primary, two quorum standbys,
 * pgpool-II): what the application writes, what replication looks like, and a round that survives a
 * crashed standby.
 */
import { testPortBase } from './support/lab';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectMetrics, resetCounters } from '../../functions/metrics/collect';
import type { Deps, MetricDatum, WorkflowStarter } from '../../functions/lib/ports';
import { LabNotifier, MetricStore, labDeps } from '../../infra/local/adapters';
import { Lab } from '../../infra/local/lab';
import { waitFor } from '../../infra/local/proc';

const N = 25;

const values = (data: MetricDatum[], name: string, dims: Record<string, string> = {}) =>
  data
    .filter((d) => d.name === name && Object.entries(dims).every(([k, v]) => d.dimensions?.[k] === v))
    .map((d) => d.value);
/** The one Cluster-wide value of a metric in a round. */
const clusterValue = (data: MetricDatum[], name: string) =>
  data.find((d) => d.name === name && Object.keys(d.dimensions ?? {}).join() === 'Cluster')?.value;

describe('custom SQL metrics on a lab cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-metrics-'));
  const lab = new Lab({ dir, portBase: testPortBase(26600), log: () => {} });
  const workflows: WorkflowStarter = {
    start: async () => {
      throw new Error('the metrics collector never starts a workflow');
    },
  };
  let deps: Deps;

  beforeAll(async () => {
    await lab.up();
    deps = labDeps(lab, workflows, new MetricStore(), new LabNotifier(join(dir, 'notifications.jsonl')));
    resetCounters();
  }, 120_000);

  afterAll(async () => {
    await lab.down({ purge: true });
  }, 60_000);

  it('reports 0 application transactions before the application table exists, without errors', async () => {
    const data = await collectMetrics(deps);
    expect(clusterValue(data, 'TransactionsLast10Min')).toBe(0);
    expect(clusterValue(data, 'MetricQueryErrors')).toBe(0);
    // First run: no previous sample, no rate yet.
    expect(values(data, 'CommitsPerSecond')).toEqual([]);
    expect(values(data, 'PrimaryWritable')).toEqual([]);
  });

  it('counts the rows the application wrote through pgpool', async () => {
    const app = await lab.client('pgpool', { user: 'app', database: 'app' });
    try {
      await app.query(
        'create table if not exists app_values (id bigserial primary key, value text not null, created_at timestamptz not null default now())',
      );
      for (let i = 0; i < N; i++) await app.query('insert into app_values (value) values ($1)', [`v${i}`]);
    } finally {
      await app.end();
    }
    const data = await collectMetrics(deps);
    expect(clusterValue(data, 'TransactionsLast10Min')).toBe(N);
  });

  it('sees both standbys streaming, one lag series per standby, a write probe and per-node figures', async () => {
    const data = await waitFor(
      'two streaming standbys',
      async () => {
        const d = await collectMetrics(deps);
        return clusterValue(d, 'StreamingStandbys') === 2 ? d : undefined;
      },
      30_000,
      200,
    );
    const lagNodes = (name: string) =>
      data
        .filter((d) => d.name === name && d.dimensions?.Node)
        .map((d) => d.dimensions!.Node)
        .sort();
    expect(lagNodes('ReplicationLagBytes')).toEqual(['pg2', 'pg3']);
    expect(lagNodes('ReplicationLagSeconds')).toEqual(['pg2', 'pg3']);
    expect(clusterValue(data, 'ReplicationLagSeconds')).toBeGreaterThanOrEqual(0);
    expect(clusterValue(data, 'SyncStandbys')).toBeGreaterThanOrEqual(1);
    expect(clusterValue(data, 'WriteProbeLatency')).toBeGreaterThan(0);
    expect(clusterValue(data, 'PgpoolNodesDown')).toBe(0);
    for (const node of ['pg1', 'pg2', 'pg3']) expect(values(data, 'Timeline', { Node: node })).toEqual([1]);
    expect(values(data, 'Connections', { Node: 'pg1', State: 'idle' })).toHaveLength(1);
    expect(clusterValue(data, 'MetricQueryErrors')).toBe(0);
  });

  it('derives commits and rollbacks per second from the previous run', async () => {
    const data = await waitFor(
      'a commit rate',
      async () => {
        const d = await collectMetrics(deps);
        return values(d, 'CommitsPerSecond').length ? d : undefined;
      },
      10_000,
      100,
    );
    expect(values(data, 'CommitsPerSecond')).toHaveLength(1);
    expect(clusterValue(data, 'CommitsPerSecond')).toBeGreaterThanOrEqual(0);
    expect(clusterValue(data, 'RollbacksPerSecond')).toBeGreaterThanOrEqual(0);
  });

  it('still completes the round when a standby crashed, with one standby streaming', async () => {
    lab.kill('pg3');
    const data = await waitFor(
      'one streaming standby',
      async () => {
        const d = await collectMetrics(deps);
        return clusterValue(d, 'StreamingStandbys') === 1 ? d : undefined;
      },
      30_000,
      200,
    );
    expect(values(data, 'Timeline', { Node: 'pg3' })).toEqual([]);
    expect(values(data, 'Timeline', { Node: 'pg2' })).toEqual([1]);
    expect(values(data, 'ReplicationLagBytes').length).toBeGreaterThanOrEqual(1);
    expect(clusterValue(data, 'TransactionsLast10Min')).toBe(N);
    // pgpool's health check detaches the crashed standby, which the topology still says should serve.
    await waitFor(
      'pgpool to report the crashed standby down',
      async () => {
        const d = await collectMetrics(deps);
        const t = await deps.topology.get(deps.cluster);
        const pg3Serving = t.nodes.some((n) => n.name === 'pg3' && n.role === 'standby' && !n.maintenance);
        return pg3Serving ? values(d, 'PgpoolNodesDown', { Pgpool: 'pgpool1' })[0] === 1 : true;
      },
      30_000,
      200,
    );
  });
});
