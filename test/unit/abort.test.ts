/**
 * Aborting planned work (functions/switchover/abort.ts restoreWritable): never start the old primary
 * while another node may have been promoted, and never act on a cluster another execution holds.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { takeLease } from '../../functions/lib/lease';
import { restoreWritable } from '../../functions/switchover/abort';
import { memoryDeps, topology } from './support/memory-deps';

const holes: { server: Server; sockets: Socket[] }[] = [];
async function blackHole(): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  holes.push({ server, sockets });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}
/** A port nothing listens on: connections are refused at once. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const saved = { ...process.env };
beforeAll(() => {
  process.env.PGWARDEN_CHECK_TIMEOUT_MS = '300';
});
afterAll(async () => {
  process.env = saved;
  for (const h of holes) {
    for (const s of h.sockets) s.destroy();
    await new Promise((r) => h.server.close(r));
  }
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
