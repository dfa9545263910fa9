/** The cluster's lease (functions/lib/lease.ts): one holder, pre-emption by a failover, renewal that re-checks. */
import { StepRefusal } from '../../functions/lib/handler';
import { holdLease, releaseLease, renewLease, takeLease } from '../../functions/lib/lease';
import { memoryDeps, topology } from './support/memory-deps';

describe('lease', () => {
  test('a second workflow is refused while the first holds the cluster', async () => {
    const deps = memoryDeps(topology());
    expect((await takeLease(deps, 'rejoin', 'exec-a')).taken).toBe(true);
    const r = await takeLease(deps, 'scale-out', 'exec-b');
    expect(r).toEqual({ taken: false, why: 'rejoin exec-a is already acting on the cluster' });
    expect(deps.topology.current.lease?.execution).toBe('exec-a');
  });

  test('a failover pre-empts planned work that does not move the primary, and says so in the history', async () => {
    const deps = memoryDeps(topology());
    await takeLease(deps, 'scale-in', 'exec-scale');
    const r = await takeLease(deps, 'failover', 'exec-failover', { preempt: true, primary: 'pg1' });
    expect(r.taken && r.preempted?.execution).toBe('exec-scale');
    expect(deps.topology.current.lease).toMatchObject({ workflow: 'failover', execution: 'exec-failover' });
    expect(deps.topology.current.history.at(-1)).toMatchObject({
      kind: 'lease-preempted',
      detail: { preempted: 'exec-scale', preemptedWorkflow: 'scale-in', by: 'exec-failover' },
    });
    // The pre-empted execution's next step stops instead of acting.
    await expect(holdLease(deps, 'scale-in', 'exec-scale')).rejects.toThrow(
      /no longer holds the cluster's lease \(failover exec-failover does\)/,
    );
  });

  test('a failover never pre-empts a switchover or another failover', async () => {
    for (const wf of ['switchover', 'failover'] as const) {
      const deps = memoryDeps(topology());
      await takeLease(deps, wf, 'exec-first');
      const r = await takeLease(deps, 'failover', 'exec-second', { preempt: true });
      expect(r.taken).toBe(false);
      expect(deps.topology.current.lease?.execution).toBe('exec-first');
    }
  });

  test('a maintenance is pre-empted while it works on a standby, not while its switch moves the primary', async () => {
    const deps = memoryDeps(topology());
    await takeLease(deps, 'maintenance', 'exec-m');
    const cur = deps.topology.current;
    deps.topology.current = {
      ...cur,
      version: cur.version + 1,
      lease: { ...cur.lease!, switching: { from: 'pg1', to: 'pg2', since: new Date().toISOString() } },
    };
    // Renewal keeps the mark; a failover for the primary the switch stopped is refused.
    await renewLease(deps, 'maintenance', 'exec-m');
    expect(deps.topology.current.lease?.switching).toMatchObject({ from: 'pg1', to: 'pg2' });
    expect((await takeLease(deps, 'failover', 'exec-f', { preempt: true })).taken).toBe(false);
    const now = deps.topology.current;
    deps.topology.current = { ...now, version: now.version + 1, lease: { ...now.lease!, switching: undefined } };
    expect((await takeLease(deps, 'failover', 'exec-f', { preempt: true })).taken).toBe(true);
  });

  test('renewal refuses when the primary the execution acts around has changed', async () => {
    const deps = memoryDeps(topology());
    await takeLease(deps, 'failover', 'exec-f', { primary: 'pg1' });
    deps.topology.current = { ...deps.topology.current, primary: 'pg2', version: deps.topology.current.version + 1 };
    const renew = renewLease(deps, 'failover', 'exec-f', { primary: 'pg1', ignorePause: true });
    await expect(renew).rejects.toBeInstanceOf(StepRefusal);
    await expect(renewLease(deps, 'failover', 'exec-f', { primary: 'pg1', ignorePause: true })).rejects.toThrow(
      'the primary changed to pg2',
    );
  });

  test('renewal extends the expiry; an expired lease taken by another execution cannot be renewed', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const deps = memoryDeps(topology(), { now: () => now });
    await takeLease(deps, 'rejoin', 'exec-a');
    const first = deps.topology.current.lease!.expiresAt;
    now = new Date(now.getTime() + 1000);
    await renewLease(deps, 'rejoin', 'exec-a');
    expect(Date.parse(deps.topology.current.lease!.expiresAt)).toBeGreaterThan(Date.parse(first));
    now = new Date(now.getTime() + 3_600_000);
    expect((await takeLease(deps, 'scale-out', 'exec-b')).taken).toBe(true);
    await expect(renewLease(deps, 'rejoin', 'exec-a')).rejects.toThrow(/exec-a no longer holds/);
  });

  test('pause stops planned work between steps, but not a failover that is already acting', async () => {
    const deps = memoryDeps(topology());
    await takeLease(deps, 'rejoin', 'exec-r');
    deps.topology.current = { ...deps.topology.current, paused: true, pausedReason: 'patch', version: 9 };
    await expect(renewLease(deps, 'rejoin', 'exec-r')).rejects.toThrow('automation is paused (patch)');
    await releaseLease(deps, 'exec-r', 'rejoin-aborted', {});
    deps.topology.current = { ...deps.topology.current, paused: false, version: deps.topology.current.version + 1 };
    await takeLease(deps, 'failover', 'exec-f');
    deps.topology.current = { ...deps.topology.current, paused: true, version: deps.topology.current.version + 1 };
    await expect(renewLease(deps, 'failover', 'exec-f', { ignorePause: true })).resolves.toBeDefined();
  });

  test('release removes only the releasing execution lease', async () => {
    const deps = memoryDeps(topology());
    await takeLease(deps, 'rejoin', 'exec-a');
    await releaseLease(deps, 'exec-b', 'something', {});
    expect(deps.topology.current.lease?.execution).toBe('exec-a');
    await releaseLease(deps, 'exec-a', 'rejoin-done', {});
    expect(deps.topology.current.lease).toBeUndefined();
  });

  test('a nested execution takes the lease over from its parent only, and its release hands it back', async () => {
    const deps = memoryDeps(topology());
    await takeLease(deps, 'maintenance', 'exec-m');
    const since = deps.topology.current.lease!.since;
    // Not from anybody else: the parent must hold the lease.
    expect(await takeLease(deps, 'switchover', 'exec-s', { parent: 'exec-other' })).toEqual({
      taken: false,
      why: 'maintenance exec-m is acting on the cluster, not the parent execution exec-other',
    });
    expect((await takeLease(deps, 'switchover', 'exec-s', { parent: 'exec-m' })).taken).toBe(true);
    expect(deps.topology.current.lease).toMatchObject({
      workflow: 'switchover',
      execution: 'exec-s',
      parent: { workflow: 'maintenance', execution: 'exec-m', since },
    });
    // Meanwhile the parent is not the holder, nobody else can take it, and a failover cannot pre-empt it.
    await expect(holdLease(deps, 'maintenance', 'exec-m')).rejects.toThrow(/switchover exec-s does/);
    expect((await takeLease(deps, 'rejoin', 'exec-r')).taken).toBe(false);
    expect((await takeLease(deps, 'failover', 'exec-f', { preempt: true })).taken).toBe(false);
    // A retried take and a renewal keep the parent.
    await holdLease(deps, 'switchover', 'exec-s', 'take', 'exec-m');
    await renewLease(deps, 'switchover', 'exec-s');
    expect(deps.topology.current.lease?.parent?.execution).toBe('exec-m');
    await releaseLease(deps, 'exec-s', 'switched-over', {});
    expect(deps.topology.current.lease).toMatchObject({ workflow: 'maintenance', execution: 'exec-m', since });
    expect(deps.topology.current.lease?.parent).toBeUndefined();
    await renewLease(deps, 'maintenance', 'exec-m');
    await releaseLease(deps, 'exec-m', 'maintenance-done', {});
    expect(deps.topology.current.lease).toBeUndefined();
  });

  test('a nested execution is refused when its parent no longer holds the lease', async () => {
    const deps = memoryDeps(topology());
    expect(await takeLease(deps, 'switchover', 'exec-s', { parent: 'exec-m' })).toEqual({
      taken: false,
      why: "the parent execution exec-m no longer holds the cluster's lease",
    });
    expect(deps.topology.current.lease).toBeUndefined();
  });
});
