/**
 * pgpool patch 0014: when the primary goes, pgpool restarts the children with a client (their
 * sessions hold connections to the old primary). Stock pgpool-II 4.6.1 (and 0011) counted among them
 * a child that had only accepted a connection: its client, still in TLS or authentication, had no
 * backend connection yet, and was cut off (a writer that came back at once after its session ended
 * saw its new connection fail). Patched, such a child is kept: it waits for the end of the failover
 * before it chooses its backend connections, and its client gets a session on the new primary.
 *
 * As in pgpool-idle-children.test.ts: the lab's app and control plane are stopped, so that no other
 * session holds a child, and the new primary is promoted here.
 */
import { connect, type Socket } from 'node:net';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { query } from '../../infra/local/lab/connections';
import { readPid } from '../../infra/local/lab/processes';
import { isAlive, waitFor } from '../../infra/local/proc';
import { pgpoolAloneLab } from './support/lab';
import { pgpoolClientChildren } from './support/processes';

const { lab, pgpoolDir, logSince } = pgpoolAloneLab(27500, {
  table: 'connecting_child',
  pgpoolEnv: { PGW_PGPOOL_CHILDREN: '4' },
});

/** pgpool's children that serve clients, by pid, with their title. */
const childTitles = () => pgpoolClientChildren(readPid(join(pgpoolDir(), 'run', 'pgpool.pid'))!);

/**
 * node-postgres on a socket that is already connected: the client's connect() finds it connected
 * (the TLS request, the startup and the authentication then run over it as on any other).
 */
function onConnectedSocket(socket: Socket): () => Socket {
  return () => {
    socket.connect = (() => {
      process.nextTick(() => socket.emit('connect'));
      return socket;
    }) as Socket['connect'];
    return socket;
  };
}

test('a client whose connection a child accepted before a failover of the primary gets a session on the new primary (patch 0014)', async () => {
  const t = lab.readTopology();
  const standby = t.nodes.find((n) => n.role === 'standby')!.name;
  const url = new URL(lab.connectionString('pgpool'));

  // A connection that a child accepts and nothing more: the client has not begun TLS or its startup.
  const socket = connect(Number(url.port), '127.0.0.1');
  const closed = new Promise<string>((resolve) => {
    socket.on('error', (e) => resolve(`error: ${e.message}`));
    socket.on('close', () => resolve('closed'));
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const accepting = await waitFor(
    'a pgpool child that accepted the connection',
    () => [...childTitles()].find(([, title]) => title === 'accept connection')?.[0],
    10_000,
  );

  const offset = statSync(join(pgpoolDir(), 'log', 'pgpool.log')).size;
  await lab.stop(t.primary);
  await waitFor('pgpool to begin its failover', () => logSince(offset).includes('Starting degeneration'), 20_000);
  await query(lab, standby, 'select pg_promote()');
  await waitFor('pgpool to end its failover', () => /=== Failover done/.test(logSince(offset)), 30_000);
  expect(logSince(offset)).toContain('Restart the children with a client');

  // The child was kept, and the client finishes connecting over the same connection.
  expect(isAlive(accepting)).toBe(true);
  const c = new Client({
    connectionString: lab.connectionString('pgpool'),
    stream: onConnectedSocket(socket),
    connectionTimeoutMillis: 10_000,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('insert into connecting_child values (1)');
    const r = await c.query<{ recovery: boolean }>('/*NO LOAD BALANCE*/ select pg_is_in_recovery() as recovery');
    expect(r.rows[0].recovery).toBe(false);
  } finally {
    await c.end().catch(() => undefined);
  }
  await expect(closed).resolves.toBe('closed'); // ended by the client, not cut off before
  const [{ n }] = await query<{ n: string }>(
    lab,
    standby,
    'select count(*) as n from connecting_child where x = 1',
    [],
    3000,
    { database: 'app' },
  );
  expect(Number(n)).toBe(1);
}, 180_000);
