/**
 * Aborting planned work (functions/planned/abort.ts, restore-writable.ts): never start the old
 * primary while another node may have been promoted, and never act on a cluster another execution
 * holds; a nested execution's failure as its parent reads it.
 */
import { nestedFailure } from '../../functions/planned/notify-failure';
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

describe("a nested execution's failure, as its parent's NotifyFailure reads it", () => {
  const cause = (d: Record<string, unknown>) => ({ Error: 'States.TaskFailed', Cause: JSON.stringify(d) });

  test("the child's refusal is the parent's refusal, named", () => {
    expect(
      nestedFailure(cause({ Name: 'm-1-switchover', Status: 'FAILED', Error: 'SwitchoverRefused', Cause: 'Refused' })),
    ).toEqual({ refused: true, cause: 'nested execution m-1-switchover was refused (SwitchoverRefused: Refused)' });
  });

  test("the child's failure is a failure; a timed-out child says so", () => {
    expect(nestedFailure(cause({ Name: 'c', Status: 'FAILED', Error: 'SwitchoverFailed', Cause: 'x' }))).toEqual({
      refused: false,
      cause: 'nested execution c failed (SwitchoverFailed: x)',
    });
    expect(nestedFailure(cause({ name: 'c', status: 'TIMED_OUT' }))?.cause).toBe(
      'nested execution c ended TIMED_OUT (TIMED_OUT: unknown)',
    );
  });

  test('any other error is not a nested failure', () => {
    expect(nestedFailure({ Error: 'Refused', Cause: 'paused' })).toBeUndefined();
    expect(nestedFailure({ Error: 'States.TaskFailed', Cause: 'not json' })).toBeUndefined();
    expect(nestedFailure(undefined)).toBeUndefined();
  });
});
