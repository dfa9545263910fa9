/**
 * The metrics an on-call engineer pages on, against a real lab (PostgreSQL 15 primary, two quorum
 * standbys, pgpool-II): every declared metric yields a value, replay lag follows a paused and resumed
 * standby, a stopped standby's slot retains more and more WAL, and a broken definition is isolated.
 */
import { freshLab } from './support/lab';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { definitionSeries } from '../../functions/metrics/catalog';
import { prometheusName, snakeCase } from '../../functions/metrics/current';
import { collectMetrics, resetCounters, STATEMENT_TIMEOUT_MS } from '../../functions/metrics/collect';
import { loadDefinitions } from '../../functions/metrics/definitions';
import type { Deps, MetricDatum, WorkflowStarter } from '../../functions/lib/ports';
import { LabNotifier, MetricStore, labDeps } from '../../infra/local/adapters';
import { waitFor } from '../../infra/local/proc';

/**
 * A strict reading of the Prometheus text format (0.0.4): HELP and TYPE before a family's samples,
 * metric and label names of the allowed alphabet, quoted and escaped label values, numeric values.
 */
function parsePrometheus(
  text: string,
): Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }> {
  const families = new Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const lines = text.split('\n');
  expect(lines[lines.length - 1]).toBe(''); // ends with a newline
  for (const [i, line] of lines.slice(0, -1).entries()) {
    const where = `line ${i + 1}: ${line}`;
    let m: RegExpMatchArray | null;
    if ((m = line.match(new RegExp(`^# HELP (${name}) (.*)$`)))) {
      if (families.has(m[1])) throw new Error(`${where}: HELP twice`);
      families.set(m[1], { type: '', samples: [] });
    } else if ((m = line.match(new RegExp(`^# TYPE (${name}) (gauge|counter|histogram|summary|untyped)$`)))) {
      const f = families.get(m[1]);
      if (!f || f.type) throw new Error(`${where}: TYPE without HELP or twice`);
      f.type = m[2];
    } else if ((m = line.match(new RegExp(`^(${name})(?:\\{(.*)\\})? (\\S+)$`)))) {
      const f = families.get(m[1]);
      if (!f?.type) throw new Error(`${where}: sample before its TYPE`);
      const labels: Record<string, string> = {};
      const body = m[2] ?? '';
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/gy;
      let pos = 0;
      let l: RegExpExecArray | null;
      while (pos < body.length && (l = re.exec(body))) {
        if (l[1] in labels) throw new Error(`${where}: label ${l[1]} twice`);
        labels[l[1]] = l[2];
        pos = re.lastIndex;
      }
      if (pos !== body.length) throw new Error(`${where}: malformed labels`);
      const value = Number(m[3]);
      if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`${where}: value is not a number`);
      f.samples.push({ labels, value });
    } else if (line !== '') throw new Error(`${where}: not in the text format`);
  }
  return families;
}

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

  it('serves every metric on /metrics in the Prometheus text format, with cluster and node labels', async () => {
    const cluster = lab.config().cluster;
    const defs = loadDefinitions();
    // The control plane runs the metrics round every few seconds; rates need two rounds.
    const families = await waitFor(
      'every declared metric on /metrics',
      async () => {
        const r = await fetch(`${lab.apiUrl}/metrics`);
        expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
        const f = parsePrometheus(await r.text());
        return defs.every((d) => f.has(prometheusName(d.name))) && f.has('pgwarden_primary_writable') ? f : undefined;
      },
      30_000,
      250,
    );
    for (const d of defs) {
      const f = families.get(prometheusName(d.name))!;
      expect([d.name, f.type]).toEqual([d.name, 'gauge']);
      expect(f.samples.length).toBeGreaterThan(0);
      for (const s of f.samples) expect([d.name, s.labels.cluster]).toEqual([d.name, cluster]);
      // Per-node metrics carry the node and their own dimensions as labels.
      const dims = definitionSeries(d)[0]
        .dimensions.filter((k) => k !== 'Cluster')
        .map(snakeCase);
      for (const s of f.samples)
        expect([d.name, Object.keys(s.labels).sort()]).toEqual([d.name, ['cluster', ...dims].sort()]);
    }
    const writable = families.get('pgwarden_primary_writable')!.samples;
    expect(writable).toEqual([{ labels: { cluster }, value: 1 }]);
    const nodes = families
      .get('pgwarden_node_up')!
      .samples.map((s) => s.labels.node)
      .sort();
    expect(nodes).toEqual(['pg1', 'pg2', 'pg3']);
  });

  it('prints the current value of every metric per node: pgwarden metrics --json and the table', async () => {
    const run = (args: string[]) =>
      promisify(execFile)('node', [join(__dirname, '..', '..', 'bin', 'pgwarden'), 'metrics', ...args], {
        env: { ...process.env, PGWARDEN_LAB_DIR: lab.dir },
      });
    const { stdout } = await run(['--json']);
    const j = JSON.parse(stdout) as { cluster: string; nodes: Record<string, { name: string; value: number }[]> };
    expect(j.cluster).toBe(lab.config().cluster);
    expect(Object.keys(j.nodes)).toEqual(['cluster', 'pg1', 'pg2', 'pg3']);
    const names = (node: string) => new Set(j.nodes[node].map((m) => m.name));
    // Every node reports each per-node metric that is one row per node (slots exist only where a standby streams from).
    for (const d of loadDefinitions().filter((x) => x.on === 'all' && !x.dimensions))
      for (const n of ['pg1', 'pg2', 'pg3']) expect([n, d.name, names(n).has(d.name)]).toEqual([n, d.name, true]);
    expect(names('cluster').has('PrimaryWritable')).toBe(true);
    const table = (await run([])).stdout.split('\n');
    expect(table[0]).toMatch(/^NODE\s+METRIC\s+DIMENSIONS\s+VALUE\s+UNIT$/);
    expect(table.filter((l) => /^pg1\s+ReplicationSlotActive\s+Slot=pgw_pg2\s+1\s+Count$/.test(l))).toHaveLength(1);
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
