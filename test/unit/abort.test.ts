/**
 * Aborting planned work (functions/switchover/abort.ts restoreWritable): never start the old primary
 * while another node may have been promoted, and never act on a cluster another execution holds.
 */
import { takeLease } from '../../functions/lib/lease';
import { restoreWritable } from '../../functions/planned/restore-writable';
import { BlackHoles, closedPort } from './support/black-holes';
import { memoryDeps, topology } from './support/memory-deps';

const holes = new BlackHoles();
const blackHole = () => holes.open();

const saved = { ...process.env };
beforeAll(() => {
  process.env.PGWARDEN_CHECK_TIMEOUT_MS = '300';
});
afterAll(async () => {
  process.env = saved;
  await holes.closeAll();
});

test('the stopped primary is not started while the switchover target does not answer: it may have been promoted', async () => {
  const t = topology();
  t.nodes[0].port = await closedPort(); // the old primary, stopped by the switch
  t.nodes[1].port = await blackHole(); // the target, gone mid-promotion: unknown
  t.nodes[2].port = await blackHole();
  const started: string[] = [];
  const deps = memoryDeps(t, {
    nodes: {
      run: async (target: string) => {
        started.push(target);
        return { ok: true, exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
      },
    } as never,
  });
  await takeLease(deps, 'switchover', 'exec-sw');
  await expect(restoreWritable(deps, 'exec-sw')).rejects.toThrow(/pg2 does not answer .* pg1 is not started/);
  expect(started).toEqual([]);
});

test('an execution that no longer holds the cluster restores nothing', async () => {
  const t = topology();
  const deps = memoryDeps(t);
  await takeLease(deps, 'scale-in', 'exec-old');
  await takeLease(deps, 'failover', 'exec-failover', { preempt: true });
  expect(await restoreWritable(deps, 'exec-old')).toEqual([
    'failover exec-failover holds the cluster: nothing restored by exec-old',
  ]);
});
