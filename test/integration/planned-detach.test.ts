/**
 * A planned detach (scale in, maintenance) returns only once pgpool has processed it. pcp_detach_node
 * returns as soon as pgpool has queued the request; pgpool then runs its failover (its
 * failover_command included) and, until that ends, its new sessions still connect to the node. The
 * step after a detach stops the node: a session begun in between ended with "unable to read data from
 * DB node N". Here pgpool's failover_command takes 2 s (a sleep before pgwarden's hook), so that the
 * order is plain to see: a standby may be stopped only after pgpool says "Failover done" for it.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executionEnded, labApi } from '../../infra/local/drill';
import { Lab } from '../../infra/local/lab';
import { testPortBase } from './support/lab';

const dir = mkdtempSync(join(tmpdir(), 'pgw-'));
const lab = new Lab({
  dir,
  portBase: testPortBase(27800),
  log: () => undefined,
  pgpoolEnv: {
    PGW_PGPOOL_LOG_LEVEL: 'info',
    PGW_FAILOVER_COMMAND: `sleep 2; ${join(dir, 'node-scripts', 'pgpool-failover-hook.sh')} %d %h %p %m %P %M %H %r %N %S`,
  },
});

beforeAll(() => lab.up(), 180_000);
afterAll(() => lab.down({ purge: true }), 60_000);

/** pgpool's log time ("2026-12-05 15:00:17.223") of its first line matching `re`, as epoch ms (UTC). */
function pgpoolLogTime(re: RegExp): number | undefined {
  const line = readFileSync(join(lab.pgpoolDir('pgpool1'), 'log', 'pgpool.log'), 'utf8')
    .split('\n')
    .find((l) => re.test(l));
  const m = line && /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3})/.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}`) : undefined; // local time, as pgpool writes it
}

/** The time of the first line matching `re` in a node's PostgreSQL stderr logs (prefix "%m ...", zone UTC). */
function nodeLogTime(node: string, re: RegExp): number | undefined {
  const dir = lab.logDir(node);
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()) {
    const line = readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .find((l) => re.test(l));
    const m = line && /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3}) UTC /.exec(line);
    if (m) return Date.parse(`${m[1]}T${m[2]}Z`);
  }
  return undefined;
}

test('rolling maintenance stops each standby only after pgpool has finished detaching it', async () => {
  await lab.waitReady(30_000);
  const t = lab.readTopology();
  const standbys = t.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  const { executionName } = await labApi<{ executionName: string }>(lab, 'POST', '/v1/maintenance', {
    command: 'true',
  });
  const done = await executionEnded(lab, executionName, 180_000, 'the maintenance to end');
  expect(done.status).toBe('SUCCEEDED');
  const order = standbys.map((name) => {
    const port = lab.node(name).port;
    const detached = pgpoolLogTime(new RegExp(`=== Failover done\\. shutdown host 127\\.0\\.0\\.1\\(${port}\\) ===`));
    const stopped = nodeLogTime(name, /received fast shutdown request/);
    return { name, detached, stopped, after: detached !== undefined && stopped !== undefined && stopped >= detached };
  });
  // Each standby's fast shutdown (maintenance.sh) comes after pgpool finished its detach.
  expect(order).toEqual(standbys.map((name) => expect.objectContaining({ name, after: true })));
}, 300_000);
