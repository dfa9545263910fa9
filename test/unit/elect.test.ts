/** The election and its zero-loss proof under quorum commit (functions/failover/elect.ts). */
import { elect } from '../../functions/failover/elect';
import type { NodeProbe } from '../../functions/lib/db';
import type { NodeSpec, Topology } from '../../functions/lib/topology';

const node = (name: string, backendId: number, extra: Partial<NodeSpec> = {}): NodeSpec => ({
  name,
  host: '127.0.0.1',
  port: 5000 + backendId,
  backendId,
  role: 'standby',
  instanceId: `lab:${name}`,
  ...extra,
});

const topo = (extra: Partial<Topology> = {}): Topology => ({
  cluster: 'c',
  version: 1,
  primary: 'pg1',
  timeline: 1,
  paused: false,
  syncQuorum: 1,
  nodes: [node('pg1', 0, { role: 'primary' }), node('pg2', 1), node('pg3', 2)],
  pgpools: [],
  history: [],
  ...extra,
});

const up = (lsn: string): NodeProbe => ({
  reachable: true,
  inRecovery: true,
  receiveLsn: lsn,
  replayLsn: lsn,
  latencyMs: 1,
});
const down: NodeProbe = { reachable: false, error: 'connect ECONNREFUSED', latencyMs: 1 };

describe('elect', () => {
  test('picks the standby with the highest received LSN when every quorum member is accounted for', () => {
    const t = topo();
    const r = elect(t, [
      [t.nodes[1], up('0/3000100')],
      [t.nodes[2], up('0/3000200')],
    ]);
    expect(r.candidate).toBe('pg3');
    expect(r.lsn).toBe('0/3000200');
    expect(r.reason).toContain('ANY 1 of 2');
  });

  test('compares LSNs numerically, not as strings', () => {
    const t = topo();
    const r = elect(t, [
      [t.nodes[1], up('0/9FFFFFF')],
      [t.nodes[2], up('0/10000000')],
    ]);
    expect(r.candidate).toBe('pg3');
  });

  test('breaks a tie by priority, then by name', () => {
    const t = topo({ nodes: [node('pg1', 0, { role: 'primary' }), node('pg2', 1), node('pg3', 2, { priority: 5 })] });
    expect(
      elect(t, [
        [t.nodes[1], up('0/5')],
        [t.nodes[2], up('0/5')],
      ]).candidate,
    ).toBe('pg3');
    const u = topo();
    expect(
      elect(u, [
        [u.nodes[1], up('0/5')],
        [u.nodes[2], up('0/5')],
      ]).candidate,
    ).toBe('pg2');
  });

  test('refuses when a quorum member is unreachable and nothing proves the survivor has its commits', () => {
    const t = topo();
    const r = elect(t, [
      [t.nodes[1], up('0/3000100')],
      [t.nodes[2], down],
    ]);
    expect(r.candidate).toBeNull();
    expect(r.reason).toMatch(/cannot prove.*needs 2 standbys accounted for, have 1 \(not accounted: pg3\)/);
  });

  test('accepts an unreachable member that stopped streaming at an LSN the candidate has reached', () => {
    const t = topo({ absentSince: { pg3: { lsn: '0/3000000', at: '2026-01-01T00:00:00Z' } } });
    const r = elect(t, [
      [t.nodes[1], up('0/3000100')],
      [t.nodes[2], down],
    ]);
    expect(r.candidate).toBe('pg2');
    expect(r.reason).toContain('pg3 stopped streaming before 0/3000100');
  });

  test('refuses when the unreachable member went away after the candidate stopped receiving', () => {
    const t = topo({ absentSince: { pg3: { lsn: '0/4000000', at: '2026-01-01T00:00:00Z' } } });
    expect(
      elect(t, [
        [t.nodes[1], up('0/3000100')],
        [t.nodes[2], down],
      ]).candidate,
    ).toBeNull();
  });

  test('never promotes a no-failover node, and refuses when only it holds the newest WAL', () => {
    const t = topo({
      nodes: [node('pg1', 0, { role: 'primary' }), node('pg2', 1), node('pg3', 2, { noFailover: true })],
    });
    const r = elect(t, [
      [t.nodes[1], up('0/3000100')],
      [t.nodes[2], up('0/3000200')],
    ]);
    expect(r.candidate).toBeNull();
    expect(r.reason).toContain('pg3 (not eligible: tagged no-failover)');
    const s = elect(t, [
      [t.nodes[1], up('0/3000200')],
      [t.nodes[2], up('0/3000200')],
    ]);
    expect(s.candidate).toBe('pg2');
  });

  test('asynchronous replication promotes the highest LSN and says no proof is possible', () => {
    const t = topo({ syncQuorum: 0 });
    const r = elect(t, [
      [t.nodes[1], up('0/3000100')],
      [t.nodes[2], down],
    ]);
    expect(r.candidate).toBe('pg2');
    expect(r.reason).toContain('no proof of zero loss is possible');
  });

  test('with no reachable standby there is no candidate', () => {
    const t = topo();
    expect(
      elect(t, [
        [t.nodes[1], down],
        [t.nodes[2], down],
      ]),
    ).toMatchObject({ candidate: null, reason: 'no eligible standby is reachable' });
  });

  describe('against the synchronous set in force (topology.sync), not the configured quorum', () => {
    const rec = (extra: Partial<NonNullable<Topology['sync']>> = {}): NonNullable<Topology['sync']> => ({
      primary: 'pg1',
      quorum: 1,
      standbys: ['pg2', 'pg3'],
      sinceLsn: '0/1000000',
      configured: 1,
      at: '2026-01-01T00:00:00.000Z',
      by: 'test',
      ...extra,
    });

    test('a degraded (asynchronous) primary is no proof: refused although every standby answers', () => {
      // A failover promoted pg1 while the others were unreachable: it ran with synchronous_standby_names
      // = '' and acknowledged commits no standby had. The configured quorum still says ANY 1.
      const t = topo({ sync: rec({ quorum: 0, standbys: [], by: 'failover-e3' }) });
      const r = elect(t, [
        [t.nodes[1], up('0/3000100')],
        [t.nodes[2], up('0/3000200')],
      ]);
      expect(r.candidate).toBeNull();
      expect(r.reason).toMatch(/asynchronous.*failover-e3.*acknowledged without a standby/);
    });

    test('only members of the set in force count: a standby outside it is no proof', () => {
      // pg2 was the only synchronous standby; pg3 streams but asynchronously (not yet in the set).
      const t = topo({
        nodes: [node('pg1', 0, { role: 'primary' }), node('pg2', 1), node('pg3', 2)],
        sync: rec({ standbys: ['pg2'] }),
      });
      const r = elect(t, [
        [t.nodes[1], down],
        [t.nodes[2], up('0/3000200')],
      ]);
      expect(r.candidate).toBeNull();
      expect(r.reason).toMatch(/synchronous set in force ANY 1 of 1 \(pg2\).*not accounted: pg2/);
    });

    test('a candidate that has not received WAL up to where the setting took effect is refused', () => {
      const t = topo({ sync: rec({ sinceLsn: '0/5000000' }) });
      const r = elect(t, [
        [t.nodes[1], up('0/4000100')],
        [t.nodes[2], up('0/4000200')],
      ]);
      expect(r.candidate).toBeNull();
      expect(r.reason).toContain('before 0/5000000');
    });

    test('with the set in force accounted for, the proof names it', () => {
      const t = topo({ sync: rec() });
      const r = elect(t, [
        [t.nodes[1], up('0/3000100')],
        [t.nodes[2], up('0/3000200')],
      ]);
      expect(r.candidate).toBe('pg3');
      expect(r.reason).toContain('synchronous set in force ANY 1 of 2 (pg2, pg3)');
    });
  });

  describe('timelines', () => {
    test('a standby left on an older timeline never wins on LSN, is not proof, and is reported stale', () => {
      const t = topo({
        timeline: 2,
        nodes: [node('pg1', 0, { role: 'primary' }), node('pg2', 1), node('pg3', 2), node('pg4', 3)],
        sync: {
          primary: 'pg1',
          quorum: 1,
          standbys: ['pg2', 'pg4'],
          sinceLsn: '0/3000000',
          configured: 1,
          at: '2026-01-01T00:00:00.000Z',
          by: 'test',
        },
      });
      const r = elect(t, [
        [t.nodes[1], { ...up('0/5000000'), timeline: 2 }],
        [t.nodes[2], { ...up('0/6000000'), timeline: 1 }],
        [t.nodes[3], { ...up('0/4000000'), timeline: 2 }],
      ]);
      expect(r.candidate).toBe('pg2');
      expect(r.stale).toEqual(['pg3']);
      expect(r.standbys.pg3.why).toBe('stale: on timeline 1, the cluster is on 2');
    });

    test('a stale standby cannot stand in for a member of the synchronous set', () => {
      const t = topo({ timeline: 2 });
      const r = elect(t, [
        [t.nodes[1], { ...up('0/5000000'), timeline: 2 }],
        [t.nodes[2], { ...up('0/4000000'), timeline: 1 }],
      ]);
      expect(r.candidate).toBeNull();
      expect(r.reason).toMatch(/not accounted: pg3/);
    });
  });

  test('another node out of recovery stops the election: no second promotion', () => {
    const t = topo();
    const r = elect(t, [
      [t.nodes[1], up('0/3000100')],
      [t.nodes[2], { reachable: true, inRecovery: false, currentLsn: '0/3000300', latencyMs: 1 }],
    ]);
    expect(r.candidate).toBeNull();
    expect(r.reason).toMatch(/pg3 is out of recovery/);
  });
});
