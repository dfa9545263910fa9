/**
 * Assess when pgwarden itself is cut off (functions/failover/assess.ts): every node's address
 * accepts TCP and never answers (a black hole on loopback, as a dropped path looks from here). No
 * vantage point that answers confirms a failure, so nothing may be fenced.
 */
import { judge, step } from '../../functions/failover/assess';
import { createServer, type Socket } from 'node:net';
import { BlackHoles, closedPort } from './support/black-holes';
import { memoryDeps, topology } from './support/memory-deps';

const holes = new BlackHoles();
const blackHole = () => holes.open();

const saved = { ...process.env };
beforeAll(() => {
  process.env.PGWARDEN_PROBE_TIMEOUT_MS = '200';
  process.env.PGWARDEN_CONFIRM_WINDOW_MS = '800';
  process.env.PGWARDEN_PROBE_RETRY_DELAY_MS = '50';
});
afterAll(async () => {
  process.env = saved;
  await holes.closeAll();
});

/** The failover's input, as a trigger of that source starts it. */
const input = (source: 'alarm' | 'pgpool') => ({
  cluster: 'c',
  executionName: 'c-failover-tl1-pg1-e0',
  trigger: { source, reason: 'test', at: new Date().toISOString() },
});

test('unreachable is unknown: with no standby or pgpool answering, the primary is not fenced', async () => {
  const t = topology();
  for (const n of t.nodes) n.port = await blackHole();
  const deps = memoryDeps(t);
  const r = await step(input('alarm'), deps);
  expect(r.decision).toBe('inconclusive');
  expect(r.reason).toMatch(/no standby or pgpool that answers confirms its failure.*nothing fenced/);
  expect(deps.topology.current.lease).toBeUndefined();
});

test('a primary whose port refuses decides alone: the standbys are not asked, the failover goes ahead', async () => {
  // Standbys that count the connections they get and never answer.
  let connections = 0;
  const sockets: Socket[] = [];
  const counting = createServer((s) => {
    connections++;
    sockets.push(s);
  });
  await new Promise<void>((r) => counting.listen(0, '127.0.0.1', r));
  try {
    const t = topology();
    for (const n of t.nodes) n.port = (counting.address() as { port: number }).port;
    t.nodes.find((n) => n.name === t.primary)!.port = await closedPort();
    const deps = memoryDeps(t);
    const r = await step(input('pgpool'), deps);
    expect(r.decision).toBe('failover');
    expect(r.reason).toMatch(/its port refuses connections.*standbys not asked/);
    expect(Object.keys(r.probes)).toEqual(['pg1']);
    expect(connections).toBe(0);
    expect(deps.topology.current.lease?.execution).toBe('c-failover-tl1-pg1-e0');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => counting.close(r));
  }
});

describe('judge: what the vantage points that answer say', () => {
  const endpoint = '127.0.0.1:1';
  const gone = { reachable: false, error: 'timeout expired', latencyMs: 200 };
  const hears = {
    reachable: true,
    inRecovery: true,
    walReceiver: { status: 'streaming', sender: endpoint, lastMsgAgeMs: 10 },
    latencyMs: 1,
  };
  const deaf = { reachable: true, inRecovery: true, walReceiver: null, latencyMs: 1 };

  test('a standby that answers and no longer hears the primary confirms', () => {
    expect(judge(gone, [['pg2', deaf]], {}, endpoint)).toMatchObject({ confirmed: true, deaf: ['pg2'] });
  });
  test('a standby that still hears the primary outweighs everything else', () => {
    expect(
      judge(
        gone,
        [
          ['pg2', hears],
          ['pg3', deaf],
        ],
        { pgpool1: 'down' },
        endpoint,
      ),
    ).toMatchObject({ confirmed: false, hearing: ['pg2'] });
  });
  test('nobody answering confirms nothing; a pgpool that answers and counts it down does', () => {
    expect(judge(gone, [['pg2', gone]], {}, endpoint).confirmed).toBe(false);
    expect(judge(gone, [['pg2', gone]], { pgpool1: 'up' }, endpoint).confirmed).toBe(false);
    expect(judge(gone, [['pg2', gone]], { pgpool1: 'down' }, endpoint)).toMatchObject({
      confirmed: true,
      pgpoolsDown: ['pgpool1'],
    });
  });
  test('a refused connection is the host itself answering', () => {
    expect(judge({ ...gone, error: 'connect ECONNREFUSED 127.0.0.1:1' }, [], {}, endpoint).confirmed).toBe(true);
  });
});
