/**
 * pgpool patches 0015, 0017-0020: a client whose child is making its backend connections when the
 * primary goes gets a session on the new primary, and never one on the old primary.
 *
 * Stock pgpool-II 4.6.1 (and 0001-0014) failed such a client's new connection in three ways, seen in
 * `npm run bench -- switchover` and `-- failover --connections per-write`: a child whose connection
 * to a primary that had just shut down was refused reported the node and ended the client with FATAL
 * "failed to create a backend connection"; a child already connecting its backends when pgpool's
 * failover began was killed with its client; a child whose backend connection failed while it
 * connected reported the node and exited.
 * Patched, the first waits for the failover it requested and connects again; the second is kept, and
 * when it has made its connections it finds that a failover began meanwhile, discards them (they may
 * be to the old primary) and connects again with the backends' new status (0015); the third waits
 * for the failover of the node it reported and connects again (0017). A child reusing a pooled
 * connection sets the client's application_name before it commits to it (0018); a child that waited
 * for a failover does not count that failover's mark against the connections it makes after it
 * (0019); a backend that closed its connection after it answered is found before the commit (0020).
 *
 * pgpool's health check is off here, so that pgpool learns of the primary's end only as each test
 * says; the lab's app and control plane are stopped (no other session holds a child), and the new
 * primary is promoted by the test.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Lab } from '../../infra/local/lab';
import { query } from '../../infra/local/lab/connections';
import { readPid } from '../../infra/local/lab/processes';
import { waitFor } from '../../infra/local/proc';
import { pgpoolAloneLab } from './support/lab';
import { establishedConnections, pgpoolClientChildren, unreadBytesFrom } from './support/processes';

const CHILDREN = 4;
function scenario(portBase: number, children = CHILDREN) {
  const { lab, pgpoolLog, logSince } = pgpoolAloneLab(portBase, {
    table: 'connect_during_failover',
    pgpoolEnv: { PGW_PGPOOL_CHILDREN: String(children), PGW_HEALTH_CHECK_PERIOD: '0' },
  });
  return {
    lab,
    logOffset: () => statSync(pgpoolLog()).size,
    logSince,
    children: () => pgpoolClientChildren(readPid(join(lab.pgpoolDir('pgpool1'), 'run', 'pgpool.pid'))!),
  };
}

/** A client of pgpool that connects (and whose outcome is kept: the test decides when to look). */
function connecting(
  lab: Lab,
  // Not the set-up's (pgwarden-lab): a child never reuses a connection it pooled for the set-up.
  applicationName = 'connect-during-failover',
): { client: Client; connected: Promise<string> } {
  const client = new Client({
    connectionString: lab.connectionString('pgpool'),
    connectionTimeoutMillis: 60_000,
    query_timeout: 20_000,
    application_name: applicationName,
  });
  client.on('error', () => undefined);
  const connected = client.connect().then(
    () => 'connected',
    (e: Error) => `failed: ${e.message}`,
  );
  return { client, connected };
}

/**
 * Watches for a pgpool child's new connection to `port`: connections made before (children idle with
 * one pooled) are not the ones to watch. Returns a poll for the child that made one since.
 */
function newConnectionTo(children: () => Map<number, string>, port: number): () => number | undefined {
  const toPort = () =>
    [...children().keys()].flatMap((pid) =>
      [...establishedConnections(pid)].filter(([, p]) => p === port).map(([inode]) => ({ pid, inode })),
    );
  const before = new Set(toPort().map((c) => c.inode));
  return () => toPort().find((c) => !before.has(c.inode))?.pid;
}

/** Through the session: the backend port its writes reach; then a write, and its rows on each of `nodes`. */
async function writeThrough(
  lab: Lab,
  c: Client,
  x: number,
  nodes: string[],
): Promise<{ port: number; rows: Record<string, number> }> {
  const r = await c.query<{ port: number }>('/*NO LOAD BALANCE*/ select inet_server_port() as port');
  await c.query('insert into connect_during_failover values ($1)', [x]);
  const rows: Record<string, number> = {};
  for (const name of nodes) {
    const [{ n: count }] = await query<{ n: string }>(
      lab,
      name,
      'select count(*) as n from connect_during_failover where x = $1',
      [x],
      5000,
      { database: 'app' },
    );
    rows[name] = Number(count);
  }
  return { port: Number(r.rows[0].port), rows };
}

/**
 * The primary's host frozen, a client connecting through pgpool, and `body` once the child serving
 * it has connected to the frozen primary and waits for its answer. The host is thawed at the end if
 * `body` did not (`thaw`).
 */
async function withChildWaitingOnFrozenPrimary(
  s: ReturnType<typeof scenario>,
  body: (c: {
    old: ReturnType<Lab['node']>;
    standby: string;
    child: number;
    client: Client;
    connected: Promise<string>;
    thaw: () => void;
  }) => Promise<void>,
): Promise<void> {
  const { lab } = s;
  const t = lab.readTopology();
  const old = lab.node(t.primary);
  const standby = t.nodes.find((n) => n.role === 'standby')!.name;
  const connectingChild = newConnectionTo(s.children, old.port);
  lab.freeze(old.name);
  let thawed = false;
  const thaw = () => {
    if (thawed) return;
    thawed = true;
    lab.thaw(old.name);
  };
  const { client, connected } = connecting(lab);
  try {
    const child = await waitFor('a pgpool child connecting to the frozen primary', connectingChild, 20_000);
    await body({ old, standby, child, client, connected, thaw });
  } finally {
    thaw();
    await client.end().catch(() => undefined);
  }
}

describe('a connection refused by a primary that pgpool still counts up', () => {
  const s = scenario(27200);

  test('the child waits for the failover it requests and the client gets a session on the new primary (patch 0015)', async () => {
    const { lab } = s;
    const t = lab.readTopology();
    const standby = t.nodes.find((n) => n.role === 'standby')!.name;
    await lab.stop(t.primary); // pgpool does not know: no health check, no session

    const offset = s.logOffset();
    const { client, connected } = connecting(lab);
    try {
      await waitFor('pgpool to begin its failover', () => s.logSince(offset).includes('Starting degeneration'), 30_000);
      await query(lab, standby, 'select pg_promote()');
      await expect(connected).resolves.toBe('connected');
      const log = s.logSince(offset);
      expect(log).toContain('the node is down now; connecting again once the failover has ended');
      expect(log).not.toMatch(/FATAL:\s+failed to create a backend connection/);
      // The failover it waited for does not count against the connections made after it (patch 0019:
      // the child sets its flag again after the wait; before, a mark the failover set while the child
      // waited made it discard them and connect a third time).
      expect(log).not.toContain('a failover began while this client connected');
      expect(log).not.toContain('(attempt 3)');
      const w = await writeThrough(lab, client, 1, [standby]);
      expect(w).toEqual({ port: lab.node(standby).port, rows: { [standby]: 1 } });
    } finally {
      await client.end().catch(() => undefined);
    }
  }, 180_000);
});

describe('a child making its backend connections when the failover of the primary begins', () => {
  const s = scenario(27100);

  test(
    'is kept, discards what it connected to the old primary and gives its client a session on the new one (patch 0015)',
    () =>
      withChildWaitingOnFrozenPrimary(s, async ({ old, standby, child, client, connected, thaw }) => {
        const { lab } = s;
        // pgpool fails the primary over (the lab's planned detach: pcp_detach_node) while that child
        // is still connecting; the standby is promoted.
        const offset = s.logOffset();
        const detached = lab.script('pgpool1', 'pgpool-detach', { NODE_ID: String(old.backendId) }, 60_000);
        await waitFor(
          'pgpool to begin its failover',
          () => s.logSince(offset).includes('Starting degeneration'),
          30_000,
        );
        await query(lab, standby, 'select pg_promote()');
        await detached;
        await waitFor('pgpool to end its failover', () => /=== Failover done/.test(s.logSince(offset)), 30_000);
        // Every child kept: the connecting one too (the others wait for a client).
        expect(s.logSince(offset)).toContain(`Restart the children with a client; ${CHILDREN} idle children stay`);
        expect(s.children().has(child)).toBe(true);

        // The old primary comes back, still a primary: the child finishes connecting to it, then finds
        // that a failover began meanwhile and connects again, to the new primary only.
        thaw();
        await expect(connected).resolves.toBe('connected');
        expect(s.logSince(offset)).toContain('a failover began while this client connected');
        // The child holds no connection to the old primary, for this session (a read balanced there
        // would be stale) or pooled.
        const peers = [...establishedConnections(child).values()];
        expect(peers).toContain(lab.node(standby).port);
        expect(peers).not.toContain(old.port);
        const w = await writeThrough(lab, client, 2, [old.name, standby]);
        expect(w).toEqual({ port: lab.node(standby).port, rows: { [old.name]: 0, [standby]: 1 } });
      }),
    180_000,
  );
});

describe('a child making its backend connections when the primary dies under it', () => {
  const s = scenario(27000);

  test(
    'reports the node, waits for the failover and gives its client a session on the new primary (patch 0017)',
    () =>
      withChildWaitingOnFrozenPrimary(s, async ({ old, standby, client, connected, thaw }) => {
        const { lab } = s;
        // The primary dies while the child waits for its answer (pgpool does not know yet: no health
        // check, no session): the child's connection is reset, and the child reports the node.
        const offset = s.logOffset();
        lab.kill(old.name);
        thaw(); // the rest of its processes see the postmaster gone and exit
        await waitFor(
          'pgpool to begin its failover',
          () => s.logSince(offset).includes('Starting degeneration'),
          30_000,
        );
        await query(lab, standby, 'select pg_promote()');
        await expect(connected).resolves.toBe('connected');
        expect(s.logSince(offset)).toMatch(/while this client connected, during a failover; connecting again/);
        const w = await writeThrough(lab, client, 3, [standby]);
        expect(w).toEqual({ port: lab.node(standby).port, rows: { [standby]: 1 } });
      }),
    180_000,
  );
});

describe('a child reusing a pooled connection when the failover of the primary begins', () => {
  // One child: the second client gets the connection the first left pooled.
  const s = scenario(26900, 1);
  const { lab, children } = s;
  // pgpool reuses a pooled connection only for an identical startup packet (the same
  // application_name among the rest), and then still sends SET application_name to every backend.
  const pooled = () => connecting(lab, 'pooled');

  test("is kept while it sets the client's application_name, and gives its client a session on the new primary (patch 0018)", async () => {
    const t = lab.readTopology();
    const old = lab.node(t.primary);
    const standby = t.nodes.find((n) => n.role === 'standby')!.name;
    const first = pooled();
    expect(await first.connected).toBe('connected');
    await first.client.query('select 1');
    await first.client.end();
    // Its session over (pgpool resets the pooled connection after the client has gone), the child
    // waits for the next client.
    await waitFor(
      'the child to wait for the next client',
      () => [...children().values()].every((title) => title.includes('wait for connection request')),
      10_000,
    );
    const offset = s.logOffset();
    const logSince = () => s.logSince(offset);

    // The primary's host frozen: the second client gets the pooled connection, and the SET of its
    // application_name waits, unread, on the frozen primary.
    lab.freeze(old.name);
    const { client: second, connected } = pooled();
    try {
      await waitFor(
        "the child's SET to wait on the frozen primary",
        () => [...children().keys()].some((pid) => unreadBytesFrom(pid, old.port) > 0),
        20_000,
      );
      const detached = lab.script('pgpool1', 'pgpool-detach', { NODE_ID: String(old.backendId) }, 60_000);
      await waitFor('pgpool to begin its failover', () => logSince().includes('Starting degeneration'), 30_000);
      await query(lab, standby, 'select pg_promote()');
      await detached;
      await waitFor('pgpool to end its failover', () => /=== Failover done/.test(logSince()), 30_000);
      // Nothing of that connection has reached the client: the child is kept, not restarted.
      expect(logSince()).toContain('Restart the children with a client; 1 idle children stay');
      lab.thaw(old.name);
      // The SET ends on the old primary; the child finds the failover, discards the pooled connection
      // and connects again, to the new primary only.
      await expect(connected).resolves.toBe('connected');
      expect(logSince()).toContain('a failover began while this client connected');
      const w = await writeThrough(lab, second, 4, [old.name, standby]);
      expect(w).toEqual({ port: lab.node(standby).port, rows: { [old.name]: 0, [standby]: 1 } });
    } finally {
      lab.thaw(old.name);
      await second.end().catch(() => undefined);
    }
  }, 180_000);
});

describe('a primary backend that ends after authenticating, while the child authenticates with the standbys', () => {
  const s = scenario(26700);

  test('the child finds it closed before its commit and connects again: the client gets a working session (patch 0020)', async () => {
    const { lab } = s;
    const t = lab.readTopology();
    const primary = lab.node(t.primary);
    const standbys = t.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
    // pgpool authenticates with its backends one after another, the primary first. The standbys hold
    // every new session two seconds after authentication (before AuthenticationOk reaches pgpool).
    for (const name of standbys) {
      await query(lab, name, 'alter system set post_auth_delay = 2');
      await query(lab, name, 'select pg_reload_conf()');
    }
    const offset = s.logOffset();
    const { client, connected } = connecting(lab, 'commit-check');
    try {
      // The primary's backend for this client has started and waits, idle; the child waits on a standby.
      const [{ pid }] = await waitFor(
        "the client's backend on the primary to have started",
        async () => {
          const r = await query<{ pid: number }>(
            lab,
            t.primary,
            "select pid from pg_stat_activity where application_name = 'commit-check' and state = 'idle'",
          );
          return r.length ? r : undefined;
        },
        20_000,
        20,
      );
      // It ends (as a primary's backends end when the primary dies or shuts down) before the child commits.
      await query(lab, t.primary, 'select pg_terminate_backend($1)', [pid]);
      await expect(connected).resolves.toBe('connected');
      expect(s.logSince(offset)).toContain(
        `backend ${primary.backendId} closed its connection before this client's session began`,
      );
      // Without the check (run on 0001-0018) the client got that closed connection: its first statement failed.
      const w = await writeThrough(lab, client, 5, [t.primary]);
      expect(w).toEqual({ port: primary.port, rows: { [t.primary]: 1 } });
    } finally {
      await client.end().catch(() => undefined);
    }
  }, 180_000);
});
