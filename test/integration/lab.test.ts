/**
 * The lab (issue 2): a real PostgreSQL 15 primary + 2 quorum standbys, pgpool-II and Redis, built by
 * the infra/node scripts, driven through the CLI and the Lab API a user has.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../infra/local/lab';
import { nodeSegment, segmentAttachments } from '../../infra/local/lab/ipc';
import { pgpoolBackends } from '../../functions/lib/db';
import { LabSecrets } from '../../infra/local/adapters';
import { executionEnded, labApi } from '../../infra/local/drill';
import { run, waitFor } from '../../infra/local/proc';
import { freshLab, testPortBase } from './support/lab';

const PORT_BASE = testPortBase(25800);
const BIN = join(__dirname, '..', '..', 'bin', 'pgwarden');

function cli(lab: Lab, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, PGWARDEN_LAB_DIR: lab.dir, PGWARDEN_PORT_BASE: String(PORT_BASE) },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('lab', () => {
  const lab = freshLab(25800); // freshLab applies the shift itself: PORT_BASE is the shifted value

  beforeAll(async () => {
    await lab.up();
  }, 180_000);

  afterAll(async () => {
    await lab.down({ purge: true });
  }, 60_000);

  test('status shows one primary, two streaming quorum standbys, pgpool, endpoints and services', async () => {
    const r = cli(lab, 'lab', 'status', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.nodes.map((n: { name: string; role: string }) => `${n.name}:${n.role}`)).toEqual([
      'pg1:primary',
      'pg2:standby',
      'pg3:standby',
    ]);
    for (const n of s.nodes.slice(1)) {
      expect(n).toMatchObject({ streaming: true, upstream: 'pg1', timeline: 1, syncState: 'quorum' });
      expect(typeof n.lagBytes).toBe('number');
    }
    expect(s.nodes[0].currentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(s.pgpools[0].nodes.map((n: { role: string; status: string }) => `${n.role}:${n.status}`)).toEqual([
      'primary:up',
      'standby:up',
      'standby:up',
    ]);
    expect(s.endpoint).toContain(`127.0.0.1:${PORT_BASE + 10}/app`);
    expect(s.services.redis).toContain(`127.0.0.1:${PORT_BASE + 20}`);
    expect(s.redisUp).toBe(true);
    expect(s.controlPlaneUp).toBe(true);
    const table = cli(lab, 'lab', 'status');
    expect(table.out).toMatch(new RegExp(`pg2\\s+standby\\s+${PORT_BASE + 1}\\s+1\\s+`));
    expect(table.out).toContain('endpoint (clients use this)');
    // Passwords only when asked for: a status is pasted into tickets.
    const secrets = lab.secrets();
    const pws = [secrets.PGW_PW_APP, secrets.PGW_PW_REDIS, secrets.PGW_PW_PGWARDEN];
    for (const out of [table.out, r.out]) for (const pw of pws) expect(out).not.toContain(pw);
    expect(table.out).toContain(`passwords: ${lab.secretsFile}`);
    const shown = JSON.parse(cli(lab, 'lab', 'status', '--json', '--show-secrets').out);
    expect(shown.endpoint).toContain(`app:${secrets.PGW_PW_APP}@`);
    expect(shown.services.redis).toContain(`:${secrets.PGW_PW_REDIS}@`);
    // 4 MB WAL segments (bootstrap-primary.sh), inherited by the standbys: a faster promotion.
    for (const n of ['pg1', 'pg2', 'pg3']) {
      const [row] = await lab.query<{ wal_segment_size: string }>(n, 'show wal_segment_size');
      expect({ n, size: row.wal_segment_size }).toEqual({ n, size: '4MB' });
    }
  });

  test('a row written through pgpool is readable on both standbys', async () => {
    const c = await lab.client('pgpool', { user: 'app', database: 'app' });
    await c.query('create table if not exists lab_rows (id int primary key, v text)');
    await c.query("insert into lab_rows values (42, 'written through pgpool')");
    await c.end();
    for (const standby of ['pg2', 'pg3']) {
      const rows = await waitFor(
        `row on ${standby}`,
        async () => {
          const c = await lab.client(standby, { database: 'app' });
          try {
            const r = await c.query('select v from lab_rows where id = 42');
            return r.rows.length ? r.rows : undefined;
          } finally {
            await c.end();
          }
        },
        10_000,
      );
      expect(rows[0].v).toBe('written through pgpool');
    }
  });

  test('pgpool sends SELECTs to the standbys and writes to the primary', async () => {
    const before = (await lab.status()).pgpools[0].nodes;
    for (let i = 0; i < 20; i++) {
      const c = await lab.client('pgpool', { user: 'app', database: 'app' });
      await c.query('select count(*) from lab_rows');
      await c.end();
    }
    const after = (await lab.status()).pgpools[0].nodes;
    const grew = (name: string) =>
      after.find((n) => n.name === name)!.selectCount - before.find((n) => n.name === name)!.selectCount;
    expect(grew('pg2') + grew('pg3')).toBeGreaterThanOrEqual(20);
    expect(grew('pg1')).toBe(0);
    // A write through pgpool lands on the primary: the standbys are read-only and it commits.
    const c = await lab.client('pgpool', { user: 'app', database: 'app' });
    const r = await c.query("insert into lab_rows values (43, 'w') returning inet_server_port() as port");
    await c.end();
    expect(r.rows[0].port).toBe(PORT_BASE);
  });

  test('up twice is harmless', async () => {
    const pid = lab.postmasterPid('pg1');
    const r = cli(lab, 'lab', 'up');
    expect(r.code).toBe(0);
    expect(lab.postmasterPid('pg1')).toBe(pid);
    expect((await lab.status()).nodes.filter((n) => n.role === 'primary')).toHaveLength(1);
  }, 120_000);

  test('an unknown node or a bad flag exits non-zero with a clear message and changes nothing', async () => {
    const pids = lab.config().nodes.map((n) => lab.postmasterPid(n.name));
    const unknown = cli(lab, 'lab', 'kill', 'pg9');
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain('unknown node "pg9"');
    const flag = cli(lab, 'lab', 'up', '--bogus');
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/Unknown option '--bogus'/);
    const cmd = cli(lab, 'lab', 'explode');
    expect(cmd.code).toBe(2);
    expect(cmd.err).toContain('unknown lab command "explode"');
    expect(lab.config().nodes.map((n) => lab.postmasterPid(n.name))).toEqual(pids);
  }, 60_000);

  test('a node action with a bad parameter fails naming it and stops nothing', async () => {
    const refused = async (host: string, script: string, params: Record<string, string>, why: string) => {
      const r = await lab.script(host, script, params);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(why);
    };
    const pid = lab.postmasterPid('pg3');
    await refused('pg3', 'stop', { MODE: 'gentle' }, 'unknown MODE gentle');
    await refused('pg3', 'stop', { UNTIL: 'later' }, 'unknown UNTIL later (exit|checkpoint)');
    expect(lab.postmasterPid('pg3')).toBe(pid);
    // pcp would read "1x" as backend 1: refused before pgpool is asked anything.
    await refused('pgpool1', 'pgpool-detach', { NODE_ID: '1x' }, 'NODE_ID must be a pgpool backend number, got "1x"');
    await refused('pgpool1', 'pgpool-attach', { NODE_ID: '9' }, "cannot read this pgpool's status of backend 9");
    expect((await lab.status()).pgpools[0].nodes.every((n) => n.status === 'up')).toBe(true);
  }, 60_000);

  test('a pgpool-II older than 4.5 is refused by configure-pgpool.sh, and its configuration is left as it was', async () => {
    // A stand-in for Debian 12's pgpool2 4.3.5: only its --version output matters here.
    const bin = mkdtempSync(join(tmpdir(), 'pgw-oldpgpool-'));
    writeFileSync(join(bin, 'pgpool'), '#!/bin/sh\necho "pgpool-II version 4.3.5 (tamahomeboshi)"\n');
    chmodSync(join(bin, 'pgpool'), 0o755);
    const envFile = join(bin, 'pgpool.env');
    writeFileSync(envFile, `${readFileSync(lab.targetEnvFile('pgpool1'), 'utf8')}\nPGW_PGPOOL_BIN=${bin}\n`);
    const conf = join(lab.pgpoolDir('pgpool1'), 'pgpool.conf');
    const before = readFileSync(conf, 'utf8');
    const r = await run('bash', [join(lab.scriptsDir, 'configure-pgpool.sh')], {
      env: { PATH: process.env.PATH, PGW_NODE_ENV: envFile },
      timeoutMs: 30_000,
    }).finally(() => rmSync(bin, { recursive: true, force: true }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('pgpool-II 4.3 is older than 4.5');
    expect(readFileSync(conf, 'utf8')).toBe(before);
  }, 60_000);

  test('a standby a pgpool detached while it streams is re-attached automatically, without a restart, and recorded', async () => {
    const pid = lab.postmasterPid('pg2');
    const since = new Date().toISOString();
    const d = await lab.script('pgpool1', 'pgpool-detach', { NODE_ID: String(lab.node('pg2').backendId) });
    expect(d.stdout).toContain('changed=yes');
    await waitFor(
      'pgpool1 to see every node up again',
      async () => (await lab.status()).pgpools[0].nodes.every((n) => n.status === 'up'),
      60_000,
      250,
    );
    const ev = lab.readTopology().history.find((e) => e.kind === 'standby-reattach' && e.at >= since);
    expect(ev?.detail).toMatchObject({ node: 'pg2', pgpools: ['pgpool1'] });
    const exec = await executionEnded(lab, String(ev!.detail.execution), 60_000, 'the rejoin to end');
    expect({ workflow: exec.workflow, status: exec.status }).toEqual({ workflow: 'rejoin', status: 'SUCCEEDED' });
    const full = await labApi<{ output: { rewind: { method: string } } }>(lab, 'GET', `/v1/executions/${exec.name}`);
    // It streamed all along: no rewind, no basebackup, no restart.
    expect(full.output.rewind.method).toBe('none');
    expect(lab.postmasterPid('pg2')).toBe(pid);
  }, 120_000);

  test("pgpool's health check finds a frozen standby down (patch 0006); thawed, it is attached again by itself", async () => {
    // A stopped postmaster: the kernel still completes the TCP handshake, nobody answers the
    // SSLRequest. Stock pgpool-II 4.6.1 restarted that read after its timer fired and never failed.
    const creds = await new LabSecrets(lab).pgpool();
    const pgpool1 = lab.readTopology().pgpools.find((p) => p.name === 'pgpool1')!;
    const id = lab.node('pg3').backendId;
    const pg3In = async () => (await pgpoolBackends(pgpool1, creds, 5000)).find((v) => v.id === id)?.status;
    expect(await pg3In()).toBe('up');
    lab.freeze('pg3');
    try {
      await waitFor('pgpool1 to count the frozen pg3 down', async () => (await pg3In()) === 'down', 60_000, 200);
    } finally {
      lab.thaw('pg3');
    }
    await waitFor('pgpool1 to count pg3 up again', async () => (await pg3In()) === 'up', 90_000, 250);
    await lab.waitReady(60_000);
  }, 180_000);

  test('a standby killed with SIGKILL shows as down; pgpool keeps serving reads and writes', async () => {
    lab.kill('pg3');
    const s = await waitFor(
      'pg3 down in status',
      async () => {
        const st = await lab.status();
        return st.nodes.find((n) => n.name === 'pg3')!.role === 'down' ? st : undefined;
      },
      10_000,
    );
    expect(s.nodes.find((n) => n.name === 'pg1')!.role).toBe('primary');
    await waitFor(
      'a write through pgpool',
      async () => {
        const cc = await lab.client('pgpool', { user: 'app', database: 'app' });
        try {
          await cc.query('insert into lab_rows values ((select max(id) + 1 from lab_rows), $1)', [
            'after standby crash',
          ]);
          return true;
        } finally {
          await cc.end();
        }
      },
      20_000,
      200,
    );
    const c = await lab.client('pgpool', { user: 'app', database: 'app' });
    // on the primary: a standby need not have replayed the write yet (quorum commit waits for a flush)
    const read = await c.query('/*NO LOAD BALANCE*/ select count(*)::int as n from lab_rows');
    await c.end();
    expect(read.rows[0].n).toBeGreaterThanOrEqual(3);
    const text = cli(lab, 'lab', 'status');
    expect(text.out).toMatch(/pg3\s+down/);
  }, 60_000);

  test('down leaves no process of the lab behind', async () => {
    const r = cli(lab, 'lab', 'down');
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(lab.labPids()).toEqual([]);
    for (const port of [
      PORT_BASE,
      PORT_BASE + 1,
      PORT_BASE + 2,
      PORT_BASE + 10,
      PORT_BASE + 11,
      PORT_BASE + 20,
      PORT_BASE + 21,
    ]) {
      expect(await portOpen(port)).toBe(false);
    }
    expect(existsSync(lab.configFile)).toBe(true);
  }, 60_000);

  test('down --purge deletes the lab and the shared memory segment its killed node left in the kernel', () => {
    // pg3's postmaster was SIGKILLed above: its interlock segment outlives it, named by postmaster.pid.
    const seg = nodeSegment(lab.dataDir('pg3'));
    expect(seg).toBeDefined();
    expect(segmentAttachments(seg!)).toBe(0);
    const r = cli(lab, 'lab', 'down', '--purge');
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(existsSync(lab.dir)).toBe(false);
    expect(segmentAttachments(seg!)).toBeUndefined();
  }, 60_000);
});
