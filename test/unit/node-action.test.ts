/** One way to run a node action from a step (functions/lib/node-action.ts). */
import { nodeAction, NodeActionFailed } from '../../functions/lib/node-action';
import type { Deps, NodeCommandResult } from '../../functions/lib/ports';

const node = { name: 'pg2', instanceId: 'i-2' };
const result = (r: Partial<NodeCommandResult>): NodeCommandResult => ({
  ok: true,
  exitCode: 0,
  stdout: '',
  stderr: '',
  durationMs: 1,
  ...r,
});
const deps = (run: () => Promise<NodeCommandResult>, seen: unknown[] = []) =>
  ({
    nodes: {
      run: async (...args: unknown[]) => {
        seen.push(args);
        return run();
      },
    },
  }) as unknown as Pick<Deps, 'nodes'>;

test("returns the script's result line (key=value), passing the params and the timeout", async () => {
  const seen: unknown[] = [];
  const r = await nodeAction(
    deps(async () => result({ stdout: 'noise\nresult timeline=4 lsn=0/3000060\n' }), seen),
    node,
    'promote',
    { SLOTS: 'pg1' },
    1234,
  );
  expect(r).toMatchObject({ timeline: '4', lsn: '0/3000060' });
  expect(seen).toEqual([['i-2', 'promote', { SLOTS: 'pg1' }, { timeoutMs: 1234 }]]);
});

test("a script that exits non-zero is a NodeActionFailed naming the node, the action and the script's last words", async () => {
  const e = await nodeAction(
    deps(async () => result({ ok: false, exitCode: 3, stderr: 'first\nno such slot\n' })),
    node,
    'follow',
    {},
  ).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(NodeActionFailed);
  expect(e).toMatchObject({
    action: 'follow',
    node: 'pg2',
    why: 'no such slot',
    message: 'follow on pg2 failed: no such slot',
  });
  const silent = await nodeAction(
    deps(async () => result({ ok: false, exitCode: 7 })),
    node,
    'fence',
    {},
  ).catch((x: unknown) => x);
  expect(silent).toMatchObject({ why: 'exit 7' });
});

test('a node that cannot be reached rejects with the transport error, not a NodeActionFailed', async () => {
  const e = await nodeAction(
    deps(async () => {
      throw new Error('InvalidInstanceId: i-2 is not connected');
    }),
    node,
    'fence',
    {},
  ).catch((x: unknown) => x);
  expect(e).not.toBeInstanceOf(NodeActionFailed);
  expect((e as Error).message).toBe('InvalidInstanceId: i-2 is not connected');
});
