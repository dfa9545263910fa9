/** Triggers turn real event shapes into one workflow start, and reject what they cannot use. */
import * as alarm from '../../functions/triggers/alarm';
import * as ec2 from '../../functions/triggers/ec2-state';
import * as pgpool from '../../functions/triggers/pgpool-hook';
import * as operator from '../../functions/triggers/operator';
import { NoCapacityError, TopologyConflictError, type Deps, type StartResult } from '../../functions/lib/ports';
import type { Topology } from '../../functions/lib/topology';
import { fakeClock } from './support/clock';

function fakeDeps(over: Partial<Topology> = {}, capacity = true) {
  let t: Topology = {
    cluster: 'prod',
    version: 1,
    primary: 'db1',
    timeline: 3,
    paused: false,
    syncQuorum: 1,
    failoverEpoch: 7,
    nodes: [
      { name: 'db1', host: '10.0.1.10', port: 5432, backendId: 0, role: 'primary', instanceId: 'i-aaa' },
      { name: 'db2', host: '10.0.2.10', port: 5432, backendId: 1, role: 'standby', instanceId: 'i-bbb' },
    ],
    pgpools: [],
    history: [],
    ...over,
  };
  const clock = fakeClock(Date.parse('2026-11-26T00:00:00Z'));
  const started = new Set<string>();
  const starts: { workflow: string; name: string; input: unknown }[] = [];
  const deps = {
    cluster: 'prod',
    topology: {
      get: async () => structuredClone(t),
      put: async (n: Topology) => {
        if (n.version !== t.version + 1) throw new TopologyConflictError(n.version - 1, t.version);
        t = n;
      },
    },
    workflows: {
      start: async (workflow: string, name: string, input: unknown): Promise<StartResult> => {
        starts.push({ workflow, name, input });
        const dup = started.has(name);
        started.add(name);
        return { executionName: name, executionArn: `arn:${name}`, started: !dup };
      },
    },
    instances: {
      // As in AWS: a spare is a node the topology lists as removed.
      provision: async (cur: Topology) => {
        const spare = cur.nodes.find((n) => n.role === 'removed');
        if (!capacity || !spare) throw new NoCapacityError('no running spare node instance');
        return {
          name: spare.name,
          host: spare.host,
          port: spare.port,
          backendId: spare.backendId,
          instanceId: spare.instanceId,
        };
      },
    },
    // The Deps clock: it moves only when a step sleeps.
    now: clock.now,
    sleep: clock.sleep,
    log: () => undefined,
  } as unknown as Deps;
  return { deps, starts, clock, topology: () => t };
}

const alarmEvent = (name: string, value: string, node?: string) => ({
  source: 'aws.cloudwatch',
  'detail-type': 'CloudWatch Alarm State Change',
  time: '2026-11-26T00:00:00Z',
  detail: {
    alarmName: name,
    state: { value, reason: 'Threshold Crossed' },
    configuration: {
      metrics: [
        {
          metricStat: {
            metric: {
              name: 'PrimaryWritable',
              dimensions: node ? { Cluster: 'prod', Node: node } : { Cluster: 'prod' },
            },
          },
        },
      ],
    },
  },
});

describe('triggers', () => {
  test('alarm, EC2 and pgpool events for the same failure name the same execution', async () => {
    const { deps, starts } = fakeDeps();
    const a = await alarm.handle(alarmEvent('pgwarden-prod-primary-unwritable', 'ALARM'), deps);
    const e = await ec2.handle(
      {
        source: 'aws.ec2',
        'detail-type': 'EC2 Instance State-change Notification',
        detail: { 'instance-id': 'i-aaa', state: 'stopped' },
      },
      deps,
    );
    const p = await pgpool.handle({ source: 'pgpool', pgpool: 'pp1', failedNodeId: 0 }, deps);
    expect(starts.map((s) => s.name)).toEqual(Array(3).fill('prod-failover-tl3-db1-e7'));
    expect([a, e, p].map((r) => r.action)).toEqual(['started', 'collapsed', 'collapsed']);
    expect(starts[0].input).toMatchObject({
      cluster: 'prod',
      executionName: 'prod-failover-tl3-db1-e7',
      trigger: { source: 'alarm', suspect: 'db1' },
    });
  });

  test('a new failover epoch gives a new execution', async () => {
    const { deps, starts } = fakeDeps({ failoverEpoch: 8 });
    await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps);
    expect(starts[0].name).toBe('prod-failover-tl3-db1-e8');
  });

  test('alarm events that are not a transition into ALARM of our failover alarm start nothing', async () => {
    const { deps, starts } = fakeDeps();
    expect(await alarm.handle(alarmEvent('pgwarden-prod-primary-unwritable', 'OK'), deps)).toMatchObject({
      action: 'ignored',
    });
    expect(await alarm.handle(alarmEvent('pgwarden-other-primary-unwritable', 'ALARM'), deps)).toMatchObject({
      action: 'ignored',
    });
    expect(await alarm.handle(alarmEvent('pgwarden-prod-replication-lag-high', 'ALARM'), deps)).toMatchObject({
      action: 'ignored',
    });
    await expect(alarm.handle(alarmEvent('pgwarden-prod-primary-unwritable', 'ALARM', 'db9'), deps)).rejects.toThrow(
      'unknown node "db9"',
    );
    await expect(
      alarm.handle({ source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', detail: {} }, deps),
    ).rejects.toThrow(/no detail.alarmName/);
    await expect(alarm.handle('nope', deps)).rejects.toThrow('event must be a JSON object');
    expect(starts).toEqual([]);
  });

  test('EC2 events of other instances or harmless states start nothing', async () => {
    const { deps, starts } = fakeDeps();
    const ev = (id: string, state: string) => ({
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': id, state },
    });
    expect(await ec2.handle(ev('i-zzz', 'stopped'), deps)).toMatchObject({
      action: 'ignored',
      reason: expect.stringContaining('not a node of cluster prod'),
    });
    expect(await ec2.handle(ev('i-bbb', 'pending'), deps)).toMatchObject({ action: 'ignored' });
    expect(await ec2.handle(ev('i-aaa', 'running'), deps)).toMatchObject({
      action: 'ignored',
      reason: expect.stringContaining('nothing to rejoin'),
    });
    await expect(ec2.handle({ source: 'aws.ec2', 'detail-type': 'Something else', detail: {} }, deps)).rejects.toThrow(
      /not an EC2 Instance State-change Notification/,
    );
    expect(starts).toEqual([]);
  });

  test('pgpool events must name a known backend', async () => {
    const { deps, starts } = fakeDeps();
    await expect(pgpool.handle({ source: 'pgpool', failedNodeId: -1 }, deps)).rejects.toThrow(/non-negative integer/);
    await expect(pgpool.handle({ source: 'pgpool', failedNodeId: 5 }, deps)).rejects.toThrow(/backend 5 is not a node/);
    await expect(pgpool.handle({ source: 'nope', failedNodeId: 0 }, deps)).rejects.toThrow(
      /not a pgpool failover event/,
    );
    expect(starts).toEqual([]);
  });

  test('pgpool detaching a standby a workflow marked for maintenance is ignored at once; the primary is not', async () => {
    const { deps, starts } = fakeDeps({
      nodes: [
        {
          name: 'db1',
          host: '10.0.1.10',
          port: 5432,
          backendId: 0,
          role: 'primary',
          instanceId: 'i-aaa',
          maintenance: true,
        },
        {
          name: 'db2',
          host: '10.0.2.10',
          port: 5432,
          backendId: 1,
          role: 'standby',
          instanceId: 'i-bbb',
          maintenance: true,
        },
      ],
    });
    expect(await pgpool.handle({ source: 'pgpool', failedNodeId: 1 }, deps)).toEqual({
      action: 'ignored',
      reason: 'db2 is a standby under planned maintenance',
    });
    expect(starts).toEqual([]);
    // The failover workflow decides about a primary (it suppresses failover for maintenance itself).
    expect(await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps)).toMatchObject({ action: 'started' });
    expect(starts).toHaveLength(1);
  });

  describe('pgpool detaching the primary a planned switch stops', () => {
    /** A switch step stopping db1 marks the lease `switching` before the stop. */
    const lease = (workflow = 'switchover', switching = workflow === 'switchover') => ({
      workflow,
      execution: 'sw-1',
      since: '2026-11-26T00:00:00Z',
      expiresAt: '2026-11-26T00:05:00Z',
      ...(switching ? { switching: { from: 'db1', to: 'db2', since: '2026-11-26T00:00:01Z' } } : {}),
    });
    const switched = (t: Topology, execution = 'sw-1'): Topology => ({
      ...t,
      primary: 'db2',
      nodes: t.nodes.map((n) => ({ ...n, role: n.name === 'db2' ? 'primary' : 'standby' })),
      history: [
        ...t.history,
        { at: '2026-11-26T00:00:01Z', kind: 'switched-over', detail: { from: 'db1', to: 'db2', execution } },
      ],
    });
    /** The topology store answers `before` for the first `polls` reads, then `after`. */
    function during(workflow: string, polls: number, after: (t: Topology) => Topology, switching?: boolean) {
      const f = fakeDeps({ lease: lease(workflow, switching) });
      const before = f.topology();
      let reads = 0;
      f.deps.topology.get = async () => structuredClone(++reads > polls ? after(before) : before);
      return { ...f, reads: () => reads };
    }
    const env = { ...process.env };
    beforeEach(() => {
      process.env.PGWARDEN_HOOK_POLL_MS = '1';
      process.env.PGWARDEN_HOOK_SWITCH_WAIT_MS = '2000';
    });
    afterEach(() => {
      process.env = { ...env };
    });

    test('waits until the switch records the promotion, then starts no failover', async () => {
      const { deps, starts, reads } = during('switchover', 3, (t) => switched(t));
      const r = await pgpool.handle({ source: 'pgpool', pgpool: 'pp1', failedNodeId: 0 }, deps);
      expect(r).toEqual({ action: 'ignored', reason: expect.stringContaining('db2 is the primary') });
      expect(reads()).toBeGreaterThan(3);
      expect(starts).toEqual([]);
    });

    test('a primary that dies while a switchover (or a maintenance) holds the lease but is not stopping it: a failover at once', async () => {
      for (const workflow of ['switchover', 'maintenance']) {
        const { deps, starts, clock } = during(workflow, Number.MAX_SAFE_INTEGER, (t) => t, false);
        expect(await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps)).toMatchObject({
          action: 'started',
          suspect: 'db1',
        });
        // No wait for a promotion nobody is making.
        expect({ workflow, slept: clock.slept }).toEqual({ workflow, slept: [] });
        expect(starts).toHaveLength(1);
      }
    });

    test('reported after the promotion was recorded: ignored at once', async () => {
      const { deps, starts, reads } = during('switchover', 0, (t) => switched(t));
      const r = await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps);
      expect(r).toMatchObject({ action: 'ignored' });
      expect(reads()).toBe(1);
      expect(starts).toEqual([]);
    });

    test('a failed topology read while waiting is retried', async () => {
      const { deps, starts } = during('switchover', 3, (t) => switched(t));
      const get = deps.topology.get.bind(deps.topology);
      let reads = 0;
      deps.topology.get = async (c: string) => {
        reads++;
        if (reads === 2) throw new Error('ThrottlingException: Rate exceeded');
        return get(c);
      };
      const r = await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps);
      expect(r).toMatchObject({ action: 'ignored' });
      expect(starts).toEqual([]);
    });

    test('a switch that ends without a promotion (lease released): a failover starts', async () => {
      const { deps, starts } = during('switchover', 2, (t) => ({ ...t, lease: undefined }));
      const r = await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps);
      expect(r).toMatchObject({ action: 'started', workflow: 'failover', suspect: 'db1' });
      expect(starts).toHaveLength(1);
    });

    test('no promotion within the wait: a failover starts', async () => {
      process.env.PGWARDEN_HOOK_SWITCH_WAIT_MS = '30';
      const { deps, starts } = during('switchover', Number.MAX_SAFE_INTEGER, (t) => t);
      const r = await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps);
      expect(r).toMatchObject({ action: 'started', suspect: 'db1' });
      expect(starts).toHaveLength(1);
    });

    test('the wait runs on the Deps clock: 8 s of polls every 100 ms (the defaults), nothing waited for real', async () => {
      delete process.env.PGWARDEN_HOOK_POLL_MS;
      delete process.env.PGWARDEN_HOOK_SWITCH_WAIT_MS;
      const { deps, starts, clock } = during('switchover', Number.MAX_SAFE_INTEGER, (t) => t);
      const started = Date.now();
      const r = await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps);
      expect(r).toMatchObject({ action: 'started', suspect: 'db1' });
      expect(starts).toHaveLength(1);
      // Polls at 100, 200, ... 8000 ms of the fake clock: the last one reaches the deadline.
      expect(clock.slept).toEqual(Array(80).fill(100));
      expect(Date.now() - started).toBeLessThan(4_000);
    });

    test('a standby detached during a switch, or a switch by another execution, is a failure report', async () => {
      const a = during('switchover', 0, (t) => t);
      expect(await pgpool.handle({ source: 'pgpool', failedNodeId: 1 }, a.deps)).toMatchObject({
        action: 'started',
        suspect: 'db2',
      });
      const b = during('switchover', 0, (t) => switched(t, 'another-execution'));
      expect(await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, b.deps)).toMatchObject({
        action: 'started',
        suspect: 'db1',
      });
    });

    test('a failover or rejoin holding the lease does not make the hook wait', async () => {
      const { deps, starts, reads } = during('rejoin', Number.MAX_SAFE_INTEGER, (t) => t);
      expect(await pgpool.handle({ source: 'pgpool', failedNodeId: 0 }, deps)).toMatchObject({ action: 'started' });
      expect(reads()).toBeLessThanOrEqual(2);
      expect(starts).toHaveLength(1);
    });
  });

  test('the operator pauses and resumes automation, recorded in the topology', async () => {
    const { deps, topology } = fakeDeps();
    expect(await operator.handle({ action: 'pause', reason: 'patching' }, deps)).toMatchObject({
      action: 'paused',
      paused: true,
    });
    expect(topology()).toMatchObject({ paused: true, pausedReason: 'patching' });
    expect(topology().history.at(-1)).toMatchObject({ kind: 'automation-paused', detail: { reason: 'patching' } });
    await operator.handle({ action: 'resume' }, deps);
    expect(topology().paused).toBe(false);
    await expect(operator.handle({ action: 'explode' }, deps)).rejects.toThrow(/unknown action "explode"/);
    await expect(operator.handle({ action: 'pause', reason: 42 }, deps)).rejects.toThrow(/reason must be a string/);
  });

  describe('read-load alarms scale the standbys within bounds', () => {
    const spare = {
      name: 'db4',
      host: '10.0.1.20',
      port: 5432,
      backendId: 3,
      role: 'removed' as const,
      instanceId: 'i-ddd',
    };
    const standby = (name: string, id: number) => ({
      name,
      host: `10.0.${id}.10`,
      port: 5432,
      backendId: id,
      role: 'standby' as const,
      instanceId: `i-${name}`,
    });
    const primary = {
      name: 'db1',
      host: '10.0.1.10',
      port: 5432,
      backendId: 0,
      role: 'primary' as const,
      instanceId: 'i-aaa',
    };

    test('read-load-high starts scale out on the provisioned spare and takes the lease', async () => {
      const { deps, starts, topology } = fakeDeps({ nodes: [primary, standby('db2', 1), standby('db3', 2), spare] });
      const r = await alarm.handle(alarmEvent('pgwarden-prod-read-load-high', 'ALARM'), deps);
      expect(r).toMatchObject({ action: 'started', workflow: 'scale-out' });
      expect(starts).toHaveLength(1);
      expect(starts[0]).toMatchObject({
        workflow: 'scale-out',
        input: { workflow: 'scale-out', node: { name: 'db4', host: '10.0.1.20', backendId: 3, instanceId: 'i-ddd' } },
      });
      expect((starts[0].input as { reason: string }).reason).toContain('pgwarden-prod-read-load-high');
      expect(topology().lease).toMatchObject({ workflow: 'scale-out', execution: starts[0].name });
    });

    test('without a spare, or at the maximum, or while paused, scale out is not started and nothing changes', async () => {
      const none = fakeDeps({ nodes: [primary, standby('db2', 1), standby('db3', 2), spare] }, false);
      expect(await alarm.handle(alarmEvent('pgwarden-prod-read-load-high', 'ALARM'), none.deps)).toEqual({
        action: 'ignored',
        reason: 'no running spare node instance',
      });
      const full = fakeDeps({ nodes: [primary, ...[1, 2, 3, 4].map((i) => standby(`db${i + 1}`, i)), spare] });
      expect(await alarm.handle(alarmEvent('pgwarden-prod-read-load-high', 'ALARM'), full.deps)).toMatchObject({
        action: 'ignored',
        reason: expect.stringContaining('PGWARDEN_MAX_STANDBYS=4'),
      });
      const paused = fakeDeps({ paused: true, nodes: [primary, standby('db2', 1), spare] });
      expect(await alarm.handle(alarmEvent('pgwarden-prod-read-load-high', 'ALARM'), paused.deps)).toMatchObject({
        action: 'ignored',
        reason: expect.stringContaining('automation is paused'),
      });
      for (const f of [none, full, paused]) {
        expect(f.starts).toEqual([]);
        expect(f.topology().lease).toBeUndefined();
      }
    });

    test('read-load-low starts scale in above the minimum only; OK transitions start nothing', async () => {
      const three = fakeDeps({ nodes: [primary, standby('db2', 1), standby('db3', 2), standby('db4', 3)] });
      expect(await alarm.handle(alarmEvent('pgwarden-prod-read-load-low', 'ALARM'), three.deps)).toMatchObject({
        action: 'started',
        workflow: 'scale-in',
      });
      expect(three.starts[0]).toMatchObject({ workflow: 'scale-in', input: { workflow: 'scale-in' } });
      const two = fakeDeps({ nodes: [primary, standby('db2', 1), standby('db3', 2)] });
      expect(await alarm.handle(alarmEvent('pgwarden-prod-read-load-low', 'ALARM'), two.deps)).toMatchObject({
        action: 'ignored',
        reason: expect.stringContaining('PGWARDEN_MIN_STANDBYS=2'),
      });
      expect(await alarm.handle(alarmEvent('pgwarden-prod-read-load-high', 'OK'), two.deps)).toMatchObject({
        action: 'ignored',
      });
      expect(two.starts).toEqual([]);
    });
  });
});
