/**
 * The metrics an on-call engineer pages on, against a real lab (PostgreSQL 15 primary, two quorum
 * standbys, pgpool-II): every declared metric yields a value, replay lag follows a paused and resumed
 * standby, a stopped standby's slot retains more and more WAL, and a broken definition is isolated.
 */
import { freshLab } from './support/lab';
import { join } from 'node:path';
import { collectMetrics, resetCounters, STATEMENT_TIMEOUT_MS } from '../../functions/metrics/collect';
import { loadDefinitions } from '../../functions/metrics/definitions';
import type { Deps, MetricDatum, WorkflowStarter } from '../../functions/lib/ports';
import { LabNotifier, MetricStore, labDeps } from '../../infra/local/adapters';
import { waitFor } from '../../infra/local/proc';

const values = (data: MetricDatum[], name: string, dims: Record<string, string> = {}) =>
  data
    .filter((d) => d.name === name && Object.entries(dims).every(([k, v]) => d.dimensions?.[k] === v))
    .map((d) => d.value);

describe('observability metrics on a lab cluster', () => {
  const lab = freshLab(25400);
  const workflows: WorkflowStarter = {
    start: async () => {
      throw new Error('the metrics collector never starts a workflow');
    },
  };
  let deps: Deps;
  const logs: { msg: string; fields?: Record<string, unknown> }[] = [];

  /** Commit `n` transactions of about 8 kB of random text each on the primary (WAL that does not compress away). */
  async function write(n: number): Promise<void> {
    const c = await lab.client('pg1');
    try {
      await c.query('create table if not exists obs_load (id bigserial primary key, pad text)');
      for (let i = 0; i < n; i++)
        await c.query(
          "insert into obs_load (pad) select string_agg(md5(random()::text), '') from generate_series(1, 250)",
        );
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    await lab.up();
    const d = labDeps(lab, workflows, new MetricStore(), new LabNotifier(join(lab.dir, 'notifications.jsonl')));
    deps = { ...d, log: (msg, fields) => logs.push({ msg, fields }) };
    resetCounters();
  }, 120_000);

  afterAll(async () => {
    await lab.down({ purge: true });
  }, 60_000);

  it('returns a value for every declared metric, without query errors', async () => {
    await collectMetrics(deps); // the first round only primes the rates and deltas
    await write(5);
    const data = await collectMetrics(deps);
    const missing = loadDefinitions()
      .map((d) => d.name)
      .filter((n) => values(data, n).length === 0);
    expect(missing).toEqual([]);
    expect(values(data, 'MetricQueryErrors')).toEqual([0]);
    // A few figures that must make sense, not only exist.
    expect(values(data, 'ReplicationSlotActive', { Slot: 'pgw_pg2' })).toEqual([1]);
    expect(values(data, 'ReplicationSlotWalStatus', { Slot: 'pgw_pg3' })).toEqual([0]);
    expect(values(data, 'ReplicationSlotSafeWalSize', { Slot: 'pgw_pg2' })[0]).toBeGreaterThan(3e9);
    expect(values(data, 'OldestXidAge', { Database: 'postgres' })[0]).toBeGreaterThan(0);
    expect(values(data, 'DatabaseSizeBytes', { Database: 'postgres' })[0]).toBeGreaterThan(1e6);
    expect(values(data, 'WalBytesPerSecond')[0]).toBeGreaterThan(0);
    const used = values(data, 'ConnectionsUsedPercent', { Node: 'pg1' })[0];
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(100);
    expect(values(data, 'RecoveryConflicts', { Node: 'pg2' })).toEqual([0]);
  });

  it('shows a paused standby replay lag growing while writes continue, and falling after resume', async () => {
    const pg2 = await lab.client('pg2');
    const lagOf = async () => {
      const d = await collectMetrics(deps);
      return {
        bytes: values(d, 'StandbyReplayLagBytes', { Node: 'pg2' })[0],
        seconds: values(d, 'StandbyReplayLagSeconds', { Node: 'pg2' })[0],
      };
    };
    try {
      await pg2.query('select pg_wal_replay_pause()');
      await write(20);
      const first = await waitFor(
        'replay lag on the paused standby',
        async () => {
          const l = await lagOf();
          return l.bytes > 0 ? l : undefined;
        },
        15_000,
        100,
      );
      await write(20);
      const second = await waitFor(
        'the replay lag to grow',
        async () => {
          const l = await lagOf();
          return l.bytes > first.bytes && l.seconds > first.seconds ? l : undefined;
        },
        15_000,
        100,
      );
      expect(second.bytes).toBeGreaterThan(first.bytes);
      expect(values(await collectMetrics(deps), 'StandbyReplayLagBytes', { Node: 'pg3' })).toEqual([0]);

      await pg2.query('select pg_wal_replay_resume()');
      const after = await waitFor(
        'the replay lag to fall after resume',
        async () => {
          const l = await lagOf();
          return l.bytes === 0 && l.seconds === 0 ? l : undefined;
        },
        15_000,
        100,
      );
      expect(after.bytes).toBeLessThan(second.bytes);
    } finally {
      await pg2.query('select pg_wal_replay_resume()').catch(() => undefined);
      await pg2.end();
    }
  });

  it('isolates a broken definition (missing field, SQL error, timeout): the others still publish, each problem is named', async () => {
    logs.length = 0;
    const good = { name: 'GoodOne', on: 'primary', unit: 'Count', sql: 'select 42 as value' };
    const data = await collectMetrics(deps, {
      metrics: [
        good,
        { name: 'NoUnit', on: 'primary', sql: 'select 1 as value' },
        { name: 'BadSql', on: 'primary', unit: 'Count', sql: 'select value from no_such_table' },
        {
          name: 'TooSlow',
          on: 'primary',
          unit: 'Count',
          sql: `select pg_sleep(${STATEMENT_TIMEOUT_MS / 1000 + 5}), 1 as value`,
        },
        { ...good, name: 'AfterSlow' },
      ],
    });
    expect(values(data, 'GoodOne')).toEqual([42]);
    expect(values(data, 'AfterSlow')).toEqual([42]);
    expect(values(data, 'NoUnit')).toEqual([]);
    expect(values(data, 'MetricQueryErrors')).toEqual([3]);
    const said = (metric: string) => logs.filter((l) => l.fields?.metric === metric);
    expect(said('NoUnit')[0]).toMatchObject({
      msg: 'metrics: invalid definition skipped',
      fields: { problems: [expect.stringMatching(/NoUnit: unit must be one of/)] },
    });
    expect(said('BadSql')[0]).toMatchObject({
      msg: 'metrics: query failed',
      fields: { error: expect.stringMatching(/relation "no_such_table" does not exist/) },
    });
    expect(said('TooSlow')[0]).toMatchObject({
      msg: 'metrics: query failed',
      fields: { error: expect.stringMatching(/statement timeout/) },
    });
  });

  it('shows the slot of a stopped standby retaining more and more WAL', async () => {
    await lab.stop('pg3');
    const retained = async () => {
      const d = await collectMetrics(deps);
      return {
        bytes: values(d, 'ReplicationSlotRetainedBytes', { Node: 'pg1', Slot: 'pgw_pg3' })[0],
        active: values(d, 'ReplicationSlotActive', { Node: 'pg1', Slot: 'pgw_pg3' })[0],
      };
    };
    const before = await waitFor(
      'the stopped standby slot to be inactive',
      async () => {
        const r = await retained();
        return r.active === 0 ? r : undefined;
      },
      15_000,
      100,
    );
    await write(50);
    const mid = await retained();
    await write(50);
    const after = await retained();
    expect(mid.bytes).toBeGreaterThan(before.bytes + 50 * 4000);
    expect(after.bytes).toBeGreaterThan(mid.bytes + 50 * 4000);
    // The slot of the standby still streaming keeps up.
    const d = await collectMetrics(deps);
    expect(values(d, 'ReplicationSlotActive', { Slot: 'pgw_pg2' })).toEqual([1]);
  });
});
