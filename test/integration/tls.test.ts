/**
 * A lab with TLS everywhere (the default; LabOptions.tls): PostgreSQL and pgpool accept TLS only,
 * replication and pgpool's backend connections use it, and clients verify the servers against the
 * lab's own CA.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientConfig } from 'pg';
import { ValueStore } from '../../app/store';
import { NO_TRACING } from '../../app/tracing';
import { runSync, waitFor } from '../../infra/local/proc';
import { freshLab } from './support/lab';

const lab = freshLab(27400, { tls: true });

async function connect(port: number, cfg: Partial<ClientConfig>): Promise<Client> {
  const c = new Client({
    host: '127.0.0.1',
    port,
    user: 'pgwarden',
    password: lab.secrets().PGW_PW_PGWARDEN,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
    ...cfg,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}
const ca = () => readFileSync(lab.caFile!, 'utf8');
const nodePort = (name: string) => lab.node(name).port;
const pgpoolPort = () => lab.config().pgpools[0].port;

beforeAll(async () => {
  await lab.up();
}, 180_000);
afterAll(async () => {
  await lab.down({ purge: true });
}, 60_000);

describe('a lab with TLS', () => {
  test('refuses a plain connection, to a node and to pgpool', async () => {
    const primary = lab.readTopology().primary;
    await expect(connect(nodePort(primary), { ssl: false })).rejects.toThrow(/no pg_hba.conf entry.*no encryption/);
    await expect(connect(pgpoolPort(), { ssl: false })).rejects.toThrow(
      /SSL off|no pool_hba.conf entry|authentication/i,
    );
  });

  test('refuses a server certificate the client cannot verify (another CA)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'pgw-otherca-'));
    try {
      const r = runSync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=other',
        '-keyout',
        join(other, 'k'),
        '-out',
        join(other, 'c'),
      ]);
      expect(r.code).toBe(0);
      const wrong = readFileSync(join(other, 'c'), 'utf8');
      await expect(
        connect(nodePort(lab.readTopology().primary), { ssl: { ca: wrong, rejectUnauthorized: true } }),
      ).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('verified TLS to a node and through pgpool; pgpool speaks TLS to the backend too', async () => {
    const direct = await connect(nodePort(lab.readTopology().primary), { ssl: { ca: ca(), rejectUnauthorized: true } });
    const own = await direct.query('select ssl, version from pg_stat_ssl where pid = pg_backend_pid()');
    await direct.end();
    expect(own.rows[0]).toMatchObject({ ssl: true });
    expect(own.rows[0].version).toMatch(/^TLSv1\.[23]$/);

    const pooled = await connect(pgpoolPort(), {
      user: 'pgpool',
      password: lab.secrets().PGW_PW_PGPOOL,
      ssl: { ca: ca(), rejectUnauthorized: true },
    });
    // Runs on the backend pgpool chose: its connection from pgpool is the one this reports.
    const backend = await pooled.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    await pooled.end();
    expect(backend.rows[0]).toEqual({ ssl: true });
  });

  test('a pgpool holds no superuser or automation password: only pgpool and app log in through it', async () => {
    const ssl = { ca: ca(), rejectUnauthorized: true };
    const users = readFileSync(join(lab.pgpoolDir(lab.config().pgpools[0].name), 'pool_passwd'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(0, l.indexOf(':')))
      .sort();
    expect(users).toEqual(['app', 'pgpool']);
    // With the right password all the same, pgpool cannot log them in to a backend.
    const s = lab.secrets();
    await expect(connect(pgpoolPort(), { ssl })).rejects.toThrow(/pgwarden|password|authentication/i);
    await expect(connect(pgpoolPort(), { ssl, user: 'postgres', password: s.PGW_PW_POSTGRES })).rejects.toThrow(
      /postgres|password|authentication/i,
    );
    // The pgwarden login that does pass (the verifying write) may write its heartbeat and nothing else.
    const c = await connect(pgpoolPort(), { ssl, user: 'pgpool', password: s.PGW_PW_PGPOOL });
    try {
      const me = await c.query(
        'select rolsuper, rolreplication, rolcreaterole from pg_roles where rolname = current_user',
      );
      expect(me.rows[0]).toEqual({ rolsuper: false, rolreplication: false, rolcreaterole: false });
      await c.query(
        "insert into pgwarden_heartbeat values ('tls-test', now(), null) on conflict (source) do update set at = excluded.at",
      );
      await expect(c.query('create table pgpool_may_not (x int)')).rejects.toThrow(/permission denied/);
      await expect(c.query('delete from pgwarden_heartbeat')).rejects.toThrow(/permission denied/);
    } finally {
      await c.end();
    }
  });

  test('streams replication over TLS', async () => {
    const c = await lab.client(lab.readTopology().primary);
    try {
      const r = await c.query(
        'select r.application_name, s.ssl from pg_stat_replication r join pg_stat_ssl s using (pid) order by 1',
      );
      const standbys = lab
        .readTopology()
        .nodes.filter((n) => n.role === 'standby')
        .map((n) => n.name);
      expect(r.rows).toEqual(standbys.sort().map((application_name) => ({ application_name, ssl: true })));
    } finally {
      await c.end();
    }
  });

  test("the app's store with TLS given as data (the AWS Lambda's path: the CA from a secret, no sslmode in the URL) writes through pgpool; another CA is refused and nothing is written", async () => {
    const url = `postgresql://app:${lab.secrets().PGW_PW_APP}@127.0.0.1:${pgpoolPort()}/app`;
    const trace = NO_TRACING.begin({ method: 'POST', url: '/api/values' });
    const good = new ValueStore({
      connectionString: url,
      tls: { ca: ca(), rejectUnauthorized: true },
      max: 1,
      connectTimeoutMs: 5000,
      queryTimeoutMs: 5000,
    });
    const other = mkdtempSync(join(tmpdir(), 'pgw-otherca-'));
    let bad: ValueStore | undefined;
    try {
      await good.ensureSchema();
      const before = await good.count();
      const row = await good.insert('over verified TLS', trace);
      expect((await good.get(row.id, trace))?.value).toBe('over verified TLS');
      expect(
        runSync('openssl', [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=other',
          '-keyout',
          join(other, 'k'),
          '-out',
          join(other, 'c'),
        ]).code,
      ).toBe(0);
      bad = new ValueStore({
        connectionString: url,
        tls: { ca: readFileSync(join(other, 'c'), 'utf8'), rejectUnauthorized: true },
        max: 1,
        connectTimeoutMs: 5000,
        queryTimeoutMs: 5000,
      });
      await expect(bad.insert('must not land', trace)).rejects.toThrow();
      expect(await good.count()).toBe(before + 1);
    } finally {
      rmSync(other, { recursive: true, force: true });
      await Promise.all([good.close(), bad?.close()]);
    }
  });

  test("the control plane's probes (functions/lib/db.ts) reach the nodes over verified TLS", async () => {
    const writable = await waitFor(
      'a PrimaryWritable sample of 1 from the control plane',
      async () => {
        const r = await fetch(`${lab.apiUrl}/v1/metrics?name=PrimaryWritable`);
        const { series } = (await r.json()) as { series: { samples: { v: number }[] }[] };
        const last = series.flatMap((s) => s.samples).at(-1);
        return last && last.v === 1 ? last : undefined;
      },
      30_000,
      200,
    );
    expect(writable.v).toBe(1);
  });
});
