/**
 * The operator trigger (the `operator` Lambda, the lab's API and the CLI's AWS target all call it)
 * accepts every verb and starts each workflow the way its own trigger does; a dry run starts nothing
 * and writes nothing.
 */
import { NoCapacityError, TopologyConflictError, type Deps, type StartResult } from '../../../functions/lib/ports';
import type { Topology } from '../../../functions/lib/topology';
import { ScratchTopology } from '../../../functions/triggers/dry-run';
import * as operator from '../../../functions/triggers/operator';
import * as switchover from '../../../functions/triggers/switchover';

const NOW = new Date('2026-12-03T08:00:00Z');

function fakeDeps(over: Partial<Topology> = {}) {
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
      { name: 'db3', host: '10.0.3.10', port: 5432, backendId: 2, role: 'standby', instanceId: 'i-ccc' },
      { name: 'db4', host: '10.0.4.10', port: 5432, backendId: 3, role: 'removed', instanceId: 'i-ddd' },
    ],
    pgpools: [],
    history: [],
    ...over,
  };
  const starts: { workflow: string; name: string; input: Record<string, unknown> }[] = [];
  const store = {
    get: async () => structuredClone(t),
    put: async (n: Topology) => {
      if (n.version !== t.version + 1) throw new TopologyConflictError(n.version - 1, t.version);
      t = n;
    },
  };
  const deps = {
    cluster: 'prod',
    topology: store,
    workflows: {
      start: async (workflow: string, name: string, input: Record<string, unknown>): Promise<StartResult> => {
        starts.push({ workflow, name, input });
        return { executionName: name, executionArn: `arn:${name}`, started: true };
      },
    },
    instances: {
      provision: async (cur: Topology) => {
        const spare = cur.nodes.find((n) => n.role === 'removed');
        if (!spare) throw new NoCapacityError('no spare');
        const { name, host, port, backendId, instanceId } = spare;
        return { name, host, port, backendId, instanceId };
      },
    },
    now: () => NOW,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    log: () => undefined,
  } as unknown as Deps;
  return { deps, starts, topology: () => t, store };
}

describe('operator trigger: every verb', () => {
  test('switchover starts exactly what the switchover trigger starts (same name rule, same input)', async () => {
    // Prepare
    const a = fakeDeps();
    const b = fakeDeps();

    // Act
    const viaOperator = await operator.handle({ action: 'switchover', to: 'db2', reason: 'patch' }, a.deps);
    await switchover.handle({ to: 'db2', reason: 'patch' }, b.deps);

    // Assess
    expect(viaOperator).toMatchObject({ action: 'started', workflow: 'switchover' });
    expect(a.starts).toEqual(b.starts);
    expect(a.starts[0]).toMatchObject({
      workflow: 'switchover',
      name: 'prod-switchover-20261203080000000',
      input: { cluster: 'prod', workflow: 'switchover', to: 'db2', reason: 'patch' },
    });
    expect(a.topology().lease).toMatchObject({ workflow: 'switchover', execution: a.starts[0].name });
  });

  test('rejoin, maintenance, scale in and scale out (on the spare instance) start their workflows', async () => {
    for (const [event, workflow, extra] of [
      [{ action: 'rejoin', node: 'db3' }, 'rejoin', { node: 'db3' }],
      [{ action: 'maintenance', command: 'restart' }, 'maintenance', { command: 'restart' }],
      [{ action: 'scale', direction: 'in', node: 'db3' }, 'scale-in', { node: 'db3' }],
      [{ action: 'scale', direction: 'out' }, 'scale-out', { node: expect.objectContaining({ name: 'db4' }) }],
    ] as const) {
      const f = fakeDeps();
      await operator.handle(event, f.deps);
      expect(f.starts).toEqual([
        { workflow, name: expect.stringMatching(`^prod-${workflow}-`), input: expect.objectContaining(extra) },
      ]);
    }
  });

  test('failover names its execution by cluster, timeline, suspect and epoch', async () => {
    const f = fakeDeps();
    await operator.handle({ action: 'failover', reason: 'drill' }, f.deps);
    expect(f.starts[0]).toMatchObject({ workflow: 'failover', name: 'prod-failover-tl3-db1-e7' });
  });

  test('bad requests are rejected with nothing started', async () => {
    const f = fakeDeps();
    await expect(operator.handle({ action: 'explode' }, f.deps)).rejects.toThrow(/unknown action "explode"/);
    await expect(operator.handle({ action: 'switchover', to: 'nope' }, f.deps)).rejects.toThrow(/unknown node/);
    await expect(operator.handle({ action: 'failover', dryRun: 'yes' }, f.deps)).rejects.toThrow(/dryRun/);
    await expect(operator.handle({ action: 'pause', dryRun: true }, f.deps)).rejects.toThrow(/no prechecks/);
    expect(f.starts).toEqual([]);
    expect(f.topology().version).toBe(1);
  });
});

describe('operator trigger: dry run', () => {
  test('a failover dry run on a paused cluster says it would not act, and starts and writes nothing', async () => {
    const f = fakeDeps({ paused: true, pausedReason: 'upgrade' });
    const r = await operator.handle({ action: 'failover', dryRun: true }, f.deps);
    expect(r).toMatchObject({ action: 'dry-run', workflow: 'failover', wouldProceed: false });
    expect((r as { reason: string }).reason).toMatch(/^paused: .*upgrade/);
    expect(f.starts).toEqual([]);
    expect(f.topology().version).toBe(1);
  });

  test('a switchover dry run while another workflow holds the cluster is refused; nothing written', async () => {
    const lease = {
      workflow: 'rejoin',
      execution: 'prod-rejoin-x',
      since: NOW.toISOString(),
      expiresAt: new Date(NOW.getTime() + 60_000).toISOString(),
    };
    const f = fakeDeps({ lease });
    await expect(operator.handle({ action: 'switchover', dryRun: true }, f.deps)).rejects.toThrow(
      /switchover refused: rejoin prod-rejoin-x is already acting/,
    );
    expect(f.topology()).toMatchObject({ version: 1, lease });
  });

  test('scale out dry run checks the cluster is free without provisioning', async () => {
    const f = fakeDeps();
    const r = await operator.handle({ action: 'scale', direction: 'out', dryRun: true }, f.deps);
    expect(r).toMatchObject({ workflow: 'scale-out', wouldProceed: true });
    expect(f.starts).toEqual([]);
  });

  test('ScratchTopology keeps writes in memory and still refuses a stale compare-and-set', async () => {
    const f = fakeDeps();
    const s = new ScratchTopology(f.store);
    const t = await s.get('prod');
    await s.put({ ...t, version: 2, paused: true });
    expect(await s.get('prod')).toMatchObject({ version: 2, paused: true });
    await expect(s.put({ ...t, version: 2 })).rejects.toThrow(TopologyConflictError);
    expect(f.topology()).toMatchObject({ version: 1, paused: false });
  });
});
