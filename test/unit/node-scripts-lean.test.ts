/**
 * The node scripts on the failover's critical path start no helper process they can do without: on a
 * busy 2-vCPU VM every process started (a command substitution's fork, dirname, readlink, find, rm)
 * cost 20-40 ms there. Each test runs the real script with logging stand-ins for the usual helpers
 * first on PATH and checks what it did and which of them it started.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeEnv } from '../../infra/local/lab/node-scripts';
import { run } from '../../infra/local/proc';

const SCRIPTS = join(__dirname, '../../infra/node');
/** Helpers a script could start; each stand-in logs its name, then runs the real command. */
const HELPERS = ['dirname', 'readlink', 'find', 'rm', 'cat', 'sleep', 'chown', 'timeout', 'env', 'date', 'basename'];

let dir: string;
let log: string;
let shims: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-lean-'));
  log = join(dir, 'started.log');
  shims = join(dir, 'bin');
  mkdirSync(shims);
  for (const h of HELPERS) {
    const real = ['/usr/bin', '/bin'].map((d) => join(d, h)).find((p) => existsSync(p));
    if (!real) throw new Error(`${h} is not installed`);
    writeFileSync(join(shims, h), `#!/bin/sh\necho ${h} >>'${log}'\nexec ${real} "$@"\n`);
    chmodSync(join(shims, h), 0o755);
  }
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function started(): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
}

function runScript(script: string, env: Record<string, string>, args: string[] = []) {
  return run('/bin/bash', [join(SCRIPTS, script), ...args], {
    env: { PATH: `${shims}:${process.env.PATH}`, LANG: 'C.UTF-8', ...env },
    timeoutMs: 30_000,
  });
}

function envFile(vars: Record<string, string>): string {
  const f = join(dir, 'node.env');
  writeEnv(f, vars);
  return f;
}

const asRoot = process.getuid?.() === 0;

test('fence.sh SIGKILLs every process working in the data directory (also through a link), spares the others, and starts no helper but sleep between scans and, as root, one chown', async () => {
  const real = join(dir, 'data-real');
  mkdirSync(real);
  const pgdata = join(dir, 'data');
  symlinkSync(real, pgdata);
  // Stand-ins for a dead postmaster's orphaned backends: their working directory is the data directory.
  const orphans = [spawn('/bin/sleep', ['300'], { cwd: real }), spawn('/bin/sleep', ['300'], { cwd: real })];
  const bystander = spawn('/bin/sleep', ['300'], { cwd: dir });
  const exited = orphans.map((o) => new Promise((r) => o.on('exit', r)));
  try {
    const r = await runScript('fence.sh', {
      PGW_NODE_ENV: envFile({ PGW_NODE: 'pgx', PGW_PGDATA: pgdata, PGW_OS_USER: asRoot ? 'root' : '' }),
      PGW_PARAM_REASON: 'test',
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain('result fenced=yes killed=2');
    await Promise.all(exited);
    expect(orphans.map((o) => o.signalCode)).toEqual(['SIGKILL', 'SIGKILL']);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    expect(existsSync(join(real, 'standby.signal'))).toBe(true);
    expect(readFileSync(join(real, 'pgwarden.fenced'), 'utf8')).toMatch(/^fenced at \S+Z: test\n$/);
    // No dirname, readlink or find: only a pause between scans and, as root, the one chown.
    expect(started().filter((h) => h !== 'sleep')).toEqual(asRoot ? ['chown'] : []);
  } finally {
    for (const p of [...orphans, bystander]) p.kill('SIGKILL');
  }
});

test('fence.sh on a node with no process left starts nothing but the chown (as root)', async () => {
  const pgdata = join(dir, 'data');
  mkdirSync(pgdata);
  const r = await runScript('fence.sh', {
    PGW_NODE_ENV: envFile({ PGW_NODE: 'pgx', PGW_PGDATA: pgdata, PGW_OS_USER: asRoot ? 'root' : '' }),
    PGW_PARAM_REASON: 'test',
  });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toContain('result fenced=yes killed=0');
  expect(started()).toEqual(asRoot ? ['chown'] : []);
});

test("pgpool's failover hook hands the event to the trigger command on stdin and starts only `timeout` around it; its marker is left empty", async () => {
  const pgpoolDir = join(dir, 'pgpool');
  mkdirSync(join(pgpoolDir, 'log'), { recursive: true });
  mkdirSync(join(pgpoolDir, 'run'));
  const event = join(dir, 'event.json');
  const pidSeen = join(dir, 'pid-seen');
  const running = join(pgpoolDir, 'run', 'failover-hook-running');
  const r = await runScript(
    'pgpool-failover-hook.sh',
    {
      PGW_NODE_ENV: envFile({
        PGW_NODE: 'pgpool1',
        PGW_PGPOOL_DIR: pgpoolDir,
        // The command sees the hook's marker holding the hook's pid while it runs.
        PGW_TRIGGER_CMD: `read -r -d '' ev; printf '%s' "$ev" >'${event}'; read -r p <'${running}'; echo "$p" >'${pidSeen}'`,
      }),
    },
    ['0', '127.0.0.1', '5432', '1', '0', '0', '127.0.0.1', '5433', '127.0.0.1', '5432'],
  );
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(readFileSync(event, 'utf8'))).toMatchObject({
    source: 'pgpool',
    pgpool: 'pgpool1',
    failedNodeId: 0,
    failedPort: 5432,
    newMainNodeId: 1,
    oldPrimaryNodeId: 0,
  });
  expect(Number(readFileSync(pidSeen, 'utf8'))).toBeGreaterThan(1);
  // Emptied once the command returned: pgpool-attach.sh reads an empty marker as no hook running.
  expect(readFileSync(running, 'utf8')).toBe('');
  expect(readFileSync(join(pgpoolDir, 'log', 'failover-hook.log'), 'utf8')).toContain('trigger (exit 0)');
  expect(started()).toEqual(['timeout']);
  // pgpool runs the file itself: bash directly, not through env.
  expect(readFileSync(join(SCRIPTS, 'pgpool-failover-hook.sh'), 'utf8').split('\n')[0]).toBe('#!/bin/bash');
});

test("in the lab, pgpool's failover hook POSTs the event to the URL in PGW_TRIGGER_URL_FILE itself and starts no process; a refusal or an unreachable API is logged, never fatal", async () => {
  const pgpoolDir = join(dir, 'pgpool');
  mkdirSync(join(pgpoolDir, 'log'), { recursive: true });
  mkdirSync(join(pgpoolDir, 'run'));
  const got: { method?: string; url?: string; type?: string; body: string }[] = [];
  let answer = { status: 200, body: '{"action":"started","executionName":"lab-failover-tl1-pg1-e0"}' };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const urlFile = join(dir, 'hook.url');
  const hook = (url: string) => {
    writeFileSync(urlFile, `${url}\n`);
    return runScript(
      'pgpool-failover-hook.sh',
      {
        PGW_NODE_ENV: envFile({ PGW_NODE: 'pgpool1', PGW_PGPOOL_DIR: pgpoolDir, PGW_TRIGGER_URL_FILE: urlFile }),
      },
      ['0', '127.0.0.1', '5432', '1', '0', '0', '127.0.0.1', '5433', '127.0.0.1', '5432'],
    );
  };
  const hookLog = () => readFileSync(join(pgpoolDir, 'log', 'failover-hook.log'), 'utf8');
  try {
    const r = await hook(`http://127.0.0.1:${port}/secret-token/v1/triggers/pgpool?wait=1`);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      method: 'POST',
      url: '/secret-token/v1/triggers/pgpool?wait=1',
      type: 'application/json',
    });
    expect(JSON.parse(got[0].body)).toMatchObject({
      source: 'pgpool',
      pgpool: 'pgpool1',
      failedNodeId: 0,
      failedPort: 5432,
    });
    expect(hookLog()).toContain(
      'trigger (exit 0): HTTP/1.1 200 OK {"action":"started","executionName":"lab-failover-tl1-pg1-e0"}',
    );
    expect(readFileSync(join(pgpoolDir, 'run', 'failover-hook-running'), 'utf8')).toBe('');
    // No timeout, no shell, no curl: nothing started at all.
    expect(started()).toEqual([]);

    answer = { status: 400, body: '{"error":"pgpool backend 0 is not a node of cluster lab"}' };
    expect((await hook(`http://127.0.0.1:${port}/secret-token/v1/triggers/pgpool`)).code).toBe(0);
    expect(hookLog()).toContain(
      'trigger (exit 1): HTTP/1.1 400 Bad Request {"error":"pgpool backend 0 is not a node of cluster lab"}',
    );

    server.close();
    const down = await hook(`http://127.0.0.1:${port}/secret-token/v1/triggers/pgpool`);
    expect({ code: down.code, stderr: down.stderr }).toEqual({ code: 0, stderr: '' });
    expect(hookLog()).toContain(`trigger (exit 1): cannot connect to 127.0.0.1:${port}`);
    expect((await hook('https://example.invalid/x')).code).toBe(0);
    expect(hookLog()).toContain('holds no http://host:port/ URL');
    expect(started()).toEqual([]);
  } finally {
    server.close();
  }
});
