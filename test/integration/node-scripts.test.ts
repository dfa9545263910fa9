/**
 * The node scripts under failure (issue 13, items 9 and 10), on a real lab: a failed maintenance
 * command is reported with its own exit status; a fenced data directory is never started; a rejoin
 * whose slot, pg_basebackup or pg_rewind fails leaves the node's data where it was, marked fenced and
 * a standby, and a later rejoin brings it back. Failures are injected by running the very scripts with
 * a PostgreSQL bin folder in which pg_basebackup or pg_rewind fails (everything else is the real one).
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { labApi } from '../../infra/local/drill';
import type { Lab } from '../../infra/local/lab';
import { nodeSegment, segmentAttachments } from '../../infra/local/lab/ipc';
import { isAlive, run, runSync, waitFor } from '../../infra/local/proc';
import { freshLab } from './support/lab';

jest.setTimeout(180_000);

const lab: Lab = freshLab(25000, { standbys: 1 });
const standby = 'pg2';
let shimEnv: string;

/** Run an infra/node script on the standby as Lab.script does, but with the failing bin folder. */
function failingScript(script: string, params: Record<string, string>) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'C.UTF-8', PGW_NODE_ENV: shimEnv };
  for (const [k, v] of Object.entries(params)) env[`PGW_PARAM_${k}`] = v;
  return run('bash', [join(lab.scriptsDir, `${script}.sh`)], { env, timeoutMs: 120_000 });
}

const data = () => lab.dataDir(standby);
const systemId = () => {
  const r = runSync(join(lab.config().pgbin, 'pg_controldata'), ['-D', data()]);
  return /Database system identifier:\s+(\d+)/.exec(r.stdout)?.[1];
};
/** Nothing an interrupted or failed rejoin could leave beside the data directory. */
const leftovers = () => readdirSync(dirname(data())).filter((f) => f.startsWith('data.'));
const primaryParams = () => ({ PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(lab.node('pg1').port) });

async function expectIntactAndFenced(id: string | undefined): Promise<void> {
  expect(existsSync(join(data(), 'PG_VERSION'))).toBe(true);
  expect(systemId()).toBe(id);
  expect(leftovers()).toEqual([]);
  expect(existsSync(join(data(), 'standby.signal'))).toBe(true);
  expect(existsSync(join(data(), 'pgwarden.fenced'))).toBe(true);
  // And nothing starts it: start.sh refuses a fenced directory.
  const r = await lab.script(standby, 'start');
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(`${standby} is fenced`);
  expect(lab.postmasterPid(standby)).toBeUndefined();
}

/** Until the standby streams again, as `lab status` shows it (30 s at most). */
const standbyStreaming = () =>
  waitFor(
    `${standby} streaming`,
    async () => (await lab.status()).nodes.find((n) => n.name === standby)?.streaming,
    30_000,
  );

async function rejoinForReal(): Promise<void> {
  const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'auto' });
  expect(r.code).toBe(0);
  expect(existsSync(join(data(), 'pgwarden.fenced'))).toBe(false);
  expect(existsSync(join(data(), 'standby.signal'))).toBe(true);
  await standbyStreaming();
}

beforeAll(async () => {
  await lab.up();
  // Nothing automatic reacts to what the tests do to the standby.
  await labApi(lab, 'POST', '/v1/sensors', { pgpool: false, alarm: false, ec2: false, heal: false });
  // The real PostgreSQL binaries, except pg_basebackup (writes part of a copy, then fails) and
  // pg_rewind (fails).
  const bin = join(lab.dir, 'failing-bin');
  mkdirSync(bin);
  for (const f of readdirSync(lab.config().pgbin)) {
    if (f !== 'pg_basebackup' && f !== 'pg_rewind') symlinkSync(join(lab.config().pgbin, f), join(bin, f));
  }
  writeFileSync(
    join(bin, 'pg_basebackup'),
    '#!/bin/bash\nwhile [ $# -gt 0 ]; do [ "$1" = -D ] && d=$2; shift; done\n' +
      'mkdir -p "$d" && echo 15 > "$d/PG_VERSION"\necho "pg_basebackup: error: injected failure" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  writeFileSync(join(bin, 'pg_rewind'), '#!/bin/bash\necho "pg_rewind: error: injected failure" >&2\nexit 1\n', {
    mode: 0o755,
  });
  const env = join(lab.nodeDir(standby), 'node-failing-bin.env');
  writeFileSync(env, `${readFileSync(lab.targetEnvFile(standby), 'utf8')}PGW_PGBIN='${bin}'\n`);
  if (lab.config().osUser) runSync('chown', ['-R', lab.config().osUser!, bin, env]);
  shimEnv = env;
}, 180_000);

afterAll(() => lab.down({ purge: true }), 60_000);

test('a failed maintenance command is reported with its own exit status, and the node runs again', async () => {
  const r = await lab.script(standby, 'maintenance', { COMMAND: 'echo patching; exit 7' });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('maintenance command failed (exit 7)');
  expect(lab.postmasterPid(standby)).toBeDefined();
});

test('start.sh refuses a fenced data directory with a clear message', async () => {
  // A clean stop first: a standby SIGKILLed by the fence would make the rejoin below run pg_rewind's
  // single-user crash recovery on it (a separate matter, see the report of issue 13).
  await lab.stop(standby);
  const f = await lab.script(standby, 'fence', { REASON: 'test' });
  expect(f.code).toBe(0);
  expect(lab.postmasterPid(standby)).toBeUndefined();
  const r = await lab.script(standby, 'start');
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/pg2 is fenced \(fenced at .*: test\): not starting it; rejoin it as a standby/);
  expect(r.stdout).toContain('result refused=fenced');
  expect(lab.postmasterPid(standby)).toBeUndefined();
  // The lab's own start of a fenced node starts nothing either (its instance is only reported running).
  expect(await lab.start(standby)).toBe('fenced');
  expect(lab.postmasterPid(standby)).toBeUndefined();
  // Rejoin clears the mark once the node is a standby again; then it starts as usual.
  await rejoinForReal();
  await lab.stop(standby);
  expect(await lab.start(standby)).toBe('started');
});

test('a standby SIGKILLed by the fence rejoins and streams again (crash recovery as a standby, not a single-user one)', async () => {
  expect(lab.postmasterPid(standby)).toBeDefined();
  const f = await lab.script(standby, 'fence', { REASON: 'test: killed standby' });
  expect(f.code).toBe(0);
  expect(f.stdout).toMatch(/result fenced=yes killed=[1-9]/);
  expect(lab.postmasterPid(standby)).toBeUndefined();
  // Its marks belong to the database's OS user, as everything in the data directory does.
  const owner = statSync(data()).uid;
  for (const f of ['standby.signal', 'pgwarden.fenced'])
    expect({ f, uid: statSync(join(data(), f)).uid }).toEqual({ f, uid: owner });
  expect(readFileSync(join(data(), 'pgwarden.fenced'), 'utf8')).toMatch(
    /^fenced at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: test: killed standby\n$/,
  );
  const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'rewind', WAIT_SECONDS: '60' });
  expect(r.stderr).toContain('crash recovery as a standby first');
  expect(r.code).toBe(0);
  expect(existsSync(join(data(), 'pgwarden.fenced'))).toBe(false);
  await standbyStreaming();
});

test('a SIGKILLed standby rejoined by a fresh copy leaves no shared memory of its old postmaster in the kernel', async () => {
  expect((await lab.script(standby, 'fence', { REASON: 'test: killed standby' })).code).toBe(0);
  // The killed postmaster's interlock segment, named by the pid file it left; PostgreSQL reclaims it at
  // a start in the same directory, never from a new copy of it.
  const seg = nodeSegment(data());
  expect(seg).toBeDefined();
  expect(segmentAttachments(seg!)).toBe(0);
  const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'basebackup', WAIT_SECONDS: '60' });
  // The whole result on failure, with the end of the node's PostgreSQL logs: CI saw this rejoin time
  // out waiting for the fresh copy to accept connections when the killed postmaster was still an
  // unreaped zombie (the next test makes that case deterministic).
  const logTail = () => {
    try {
      return readdirSync(lab.logDir(standby))
        .filter((f) => f.endsWith('.log'))
        .map((f) =>
          readFileSync(join(lab.logDir(standby), f), 'utf8')
            .split('\n')
            .slice(-30)
            .join('\n'),
        )
        .join('\n');
    } catch (e) {
      return `(no log: ${(e as Error).message})`;
    }
  };
  expect({ code: r.code, stderr: r.code ? r.stderr : '', log: r.code ? logTail() : '' }).toEqual({
    code: 0,
    stderr: '',
    log: '',
  });
  expect(r.stderr).toContain(`removed the shared memory segment ${seg!.shmid}`);
  expect(segmentAttachments(seg!)).toBeUndefined();
  await standbyStreaming();
});

/**
 * `bash -c script` as the database's OS user, as the postmaster ran (PostgreSQL takes a lock naming
 * another user's process, kill() failing with EPERM, for a stale one), and the pid it prints first.
 */
async function spawnAsOsUser(script: string): Promise<{ runner: ChildProcess; printed: number }> {
  const osUser = lab.config().osUser;
  const argv = osUser ? ['runuser', '-u', osUser, '--', 'bash', '-c', script] : ['bash', '-c', script];
  const runner = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
  const printed = Number(
    await new Promise<string>((resolve) => runner.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim()))),
  );
  return { runner, printed };
}

/** The standby's socket lock file, as a postmaster of pid `pid` leaves it, owned by the OS user. */
function writeSocketLock(pid: number): void {
  const lock = join(lab.nodeDir(standby), 'run', `.s.PGSQL.${lab.node(standby).port}.lock`);
  writeFileSync(lock, `${pid}\n${data()}\n0\n${lab.node(standby).port}\n${dirname(lock)}\n`);
  if (lab.config().osUser) runSync('chown', [lab.config().osUser!, lock]);
}

test('a fresh-copy rejoin starts the node while its killed postmaster is still an unreaped zombie naming the socket lock', async () => {
  // An orphaned postmaster killed by the fence stays a zombie until init reaps it (lazily on some
  // machines); PostgreSQL's check of the socket lock file (kill(pid, 0)) takes a zombie for a live
  // postmaster and refuses to start. Made deterministic here: a zombie whose parent never reaps it,
  // named by the lock file the killed postmaster leaves.
  expect((await lab.script(standby, 'fence', { REASON: 'test: killed standby' })).code).toBe(0);
  // The child ends once its parent has become `sleep` (which never reaps): a child that ended before
  // the exec was reaped by bash itself, and no zombie was left (seen once in CI under load).
  const { runner, printed: zombie } = await spawnAsOsUser(
    'p=$$; (until read -r c < /proc/$p/comm && [ "$c" = sleep ]; do :; done) & echo $!; exec sleep 300',
  );
  // runuser does not pass a signal on to its child: the zombie's parent (the exec'd sleep) is killed by pid.
  let zombieParent = 0;
  try {
    const status = () => readFileSync(`/proc/${zombie}/status`, 'utf8');
    const state = () => /^State:\s*(\w)/m.exec(status())?.[1];
    zombieParent = Number(/^PPid:\s*(\d+)/m.exec(status())?.[1]);
    await waitFor(`process ${zombie} to be a zombie`, () => state() === 'Z', 10_000);
    writeSocketLock(zombie);
    const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'basebackup', WAIT_SECONDS: '30' });
    expect({ code: r.code, stderr: r.code ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
    expect(r.stderr).toContain(`removing the stale socket lock of exited process ${zombie}`);
    expect(state()).toBe('Z');
    await standbyStreaming();
  } finally {
    if (zombieParent > 1) process.kill(zombieParent, 'SIGKILL');
    runner.kill('SIGKILL');
  }
});

test('a rejoin whose start PostgreSQL refuses after its logging collector started fails at once, saying why', async () => {
  // A live process of the database's OS user named by the socket lock file: PostgreSQL refuses to start
  // ("lock file ... already exists") and says so in the server log, not in pg_ctl's startup log. The
  // rejoin used to wait out its whole WAIT_SECONDS and then report a timeout.
  expect((await lab.script(standby, 'fence', { REASON: 'test: killed standby' })).code).toBe(0);
  const { runner, printed: holder } = await spawnAsOsUser('echo $$; exec sleep 300');
  try {
    writeSocketLock(holder);
    const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'basebackup', WAIT_SECONDS: '45' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${standby} exited while starting`);
    expect(r.stderr).toMatch(/lock file .*already exists/);
    expect(r.stderr).not.toContain('timed out');
  } finally {
    if (holder > 1) process.kill(holder, 'SIGKILL');
    runner.kill('SIGKILL');
  }
  // the holder gone, its lock is stale: the next rejoin clears it and the node streams again
  await rejoinForReal();
});

test('rejoin by basebackup whose slot cannot be created leaves the data directory in place, fenced', async () => {
  const id = systemId();
  // Nothing listens there: creating the slot (the first thing that needs the primary) fails.
  const r = await failingScript('rejoin', { PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: '1', METHOD: 'basebackup' });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('could not create slot');
  await expectIntactAndFenced(id);
  await rejoinForReal();
});

test('rejoin whose pg_basebackup fails part-way leaves the old data directory in place, fenced', async () => {
  const id = systemId();
  const r = await failingScript('rejoin', { ...primaryParams(), METHOD: 'basebackup' });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('pg_basebackup failed');
  await expectIntactAndFenced(id);
  await rejoinForReal();
});

test('rejoin whose pg_rewind fails keeps standby.signal and the fence mark', async () => {
  const id = systemId();
  const r = await failingScript('rejoin', { ...primaryParams(), METHOD: 'rewind' });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('pg_rewind failed');
  await expectIntactAndFenced(id);
  await rejoinForReal();
});

test('a rejoin interrupted while swapping in a fresh copy is put right by the next one', async () => {
  await lab.stop(standby);
  const id = systemId();
  // As left by a rejoin killed between moving the old directory aside and moving the new copy in.
  renameSync(data(), `${data()}.rejoin-old`);
  const r = await failingScript('rejoin', { ...primaryParams(), METHOD: 'basebackup' });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('restoring');
  await expectIntactAndFenced(id);
  await rejoinForReal();
});

/**
 * The standby's data moved to `volume/pgdata` in its node folder (a volume of its own, as it were) and
 * reached through `fn(volume, target)`; put back as it was afterwards, the node stopped.
 */
async function withDataMovedTo(fn: (volume: string, target: string) => Promise<void>): Promise<void> {
  await lab.stop(standby);
  const volume = join(lab.nodeDir(standby), 'volume');
  const target = join(volume, 'pgdata');
  mkdirSync(volume);
  if (lab.config().osUser) runSync('chown', [lab.config().osUser!, volume]);
  try {
    await fn(volume, target);
  } finally {
    if (lab.postmasterPid(standby)) await lab.stop(standby);
    if (lstatSync(data()).isSymbolicLink()) {
      unlinkSync(data());
      renameSync(target, data());
    }
    rmSync(volume, { recursive: true, force: true });
  }
}

test('rejoin by basebackup keeps a data directory that is a symbolic link a link: the fresh copy is made at its target', async () => {
  await withDataMovedTo(async (volume, target) => {
    renameSync(data(), target);
    symlinkSync(target, data());
    const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'basebackup' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('result method=basebackup');
    // The link is where it was, to the same place; the copy is there, and nothing is left beside either.
    expect(lstatSync(data()).isSymbolicLink()).toBe(true);
    expect(readlinkSync(data())).toBe(target);
    expect(readdirSync(volume)).toEqual(['pgdata']);
    expect(leftovers()).toEqual([]);
    expect(existsSync(join(target, 'standby.signal'))).toBe(true);
    expect(existsSync(join(target, 'pgwarden.fenced'))).toBe(false);
    await standbyStreaming();
  });
  await rejoinForReal();
});

test('a new standby whose data directory is a symbolic link is cloned into its target, and the link stays', async () => {
  await withDataMovedTo(async (volume, target) => {
    // A fresh node: an empty directory on its data volume, linked from PGDATA.
    rmSync(data(), { recursive: true, force: true });
    mkdirSync(target);
    if (lab.config().osUser) runSync('chown', [lab.config().osUser!, target]);
    symlinkSync(target, data());
    const r = await lab.script(standby, 'bootstrap-standby', primaryParams());
    expect(r.code).toBe(0);
    expect(lstatSync(data()).isSymbolicLink()).toBe(true);
    expect(readlinkSync(data())).toBe(target);
    expect(existsSync(join(target, 'PG_VERSION'))).toBe(true);
    expect(readdirSync(volume)).toEqual(['pgdata']);
    await standbyStreaming();
  });
  await rejoinForReal();
});

test('rejoin by basebackup refuses a data directory that is a mount point, before it touches it', async () => {
  await withDataMovedTo(async (volume, target) => {
    // The data directory itself is the mount point (a bind mount of another folder).
    renameSync(data(), target);
    mkdirSync(data());
    expect(runSync('mount', ['--bind', target, data()]).code).toBe(0);
    try {
      const id = systemId();
      const r = await lab.script(standby, 'rejoin', { ...primaryParams(), METHOD: 'basebackup' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`the data directory ${data()} is a mount point`);
      await expectIntactAndFenced(id);
      expect(readdirSync(volume)).toEqual(['pgdata']);
    } finally {
      runSync('umount', [data()]);
      rmdirSync(data());
      renameSync(target, data());
    }
  });
  await rejoinForReal();
});

/** The parent pid of a process, from /proc (undefined once it is gone). */
function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  } catch {
    return undefined;
  }
}

describe('pgpool-start.sh when its port is taken', () => {
  const pool = () => lab.config().pgpools[0];
  const pgpoolLog = () => join(lab.pgpoolDir(pool().name), 'log', 'pgpool.log');
  const logSize = () => (existsSync(pgpoolLog()) ? statSync(pgpoolLog()).size : 0);
  const logSince = (offset: number) => readFileSync(pgpoolLog()).subarray(offset).toString('utf8');
  let holder: Server | undefined;
  const holdPcpPort = () =>
    new Promise<Server>((resolve, reject) => {
      // It hangs up on whoever connects (pcp_node_count), as a port held by something else would.
      const s = createServer((sock) => sock.destroy());
      s.once('error', reject);
      s.listen(pool().pcpPort, '127.0.0.1', () => resolve(s));
    });
  const release = () =>
    new Promise<void>((resolve) => {
      const s = holder;
      holder = undefined;
      if (s) s.close(() => resolve());
      else resolve();
    });
  /** Whether anything accepts TCP connections on the port. */
  const accepting = (port: number) =>
    new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
  afterEach(release);

  test('a pgpool that cannot bind its PCP port fails with the reason and who holds the port, and leaves no pgpool running', async () => {
    const stop = await lab.script(pool().name, 'pgpool-stop');
    expect(stop.code).toBe(0);
    // pgpool's pid file ends in a NUL byte: read without a shell warning.
    expect(stop.stderr).not.toContain('null byte');
    holder = await holdPcpPort();
    const r = await lab.script(pool().name, 'pgpool-start');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('could not start');
    expect(r.stderr).toMatch(/already in use/i);
    expect(r.stderr).toContain(`held by`);
    expect(r.stderr).toContain(`pid=${process.pid}`);
    // It tried once more after the port stayed taken, and no pgpool of this lab is left.
    expect(r.stderr).toContain('starting it again once its ports are free');
    expect(await accepting(pool().port)).toBe(false);
    const pidFile = join(lab.pgpoolDir(pool().name), 'run', 'pgpool.pid');
    if (existsSync(pidFile)) expect(isAlive(parseInt(readFileSync(pidFile, 'utf8'), 10))).toBe(false);
  });

  test('a pgpool whose PCP port is freed while it starts is started again and answers', async () => {
    const offset = logSize();
    holder = await holdPcpPort();
    const started = lab.script(pool().name, 'pgpool-start');
    // The first start fails on the port; then the port is freed, as by a pgpool that has just exited.
    await waitFor('the first start to fail on the PCP port', () => /already in use/i.test(logSince(offset)), 30_000);
    await release();
    const r = await started;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('starting it again once its ports are free');
    expect((await lab.status()).pgpools[0]).toMatchObject({ name: pool().name, up: true });
  });

  test('a pgpool stopped while its failover hook waits leaves nothing holding its ports, and starts again at once', async () => {
    const cp = Number(readFileSync(join(lab.controlDir, 'controlplane.pid'), 'utf8'));
    const hookLog = join(lab.pgpoolDir(pool().name), 'log', 'failover-hook.log');
    const hooks = () => (existsSync(hookLog) ? readFileSync(hookLog, 'utf8').split('failover_command:').length : 1);
    const before = hooks();
    // The hook reports to a control plane that does not answer (frozen), as one that is down or slow.
    process.kill(cp, 'SIGSTOP');
    try {
      await lab.stop(standby);
      await waitFor('pgpool to run its failover hook for the stopped standby', () => hooks() > before, 30_000);
      const r = await lab.script(pool().name, 'pgpool-stop');
      expect(r.code).toBe(0);
      expect(await accepting(pool().port)).toBe(false);
      // The PCP port is free: this process can listen on it.
      holder = await holdPcpPort();
      await release();
    } finally {
      process.kill(cp, 'SIGCONT');
    }
    expect((await lab.script(standby, 'start')).code).toBe(0);
    const r = await lab.script(pool().name, 'pgpool-start');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('starting it again');
    expect((await lab.status()).pgpools[0]).toMatchObject({ name: pool().name, up: true });
  });

  test('a pgpool whose pid file is gone is found by its configuration file and stopped, its ports freed', async () => {
    const pidFile = join(lab.pgpoolDir(pool().name), 'run', 'pgpool.pid');
    const pid = parseInt(readFileSync(pidFile, 'utf8'), 10);
    expect(isAlive(pid)).toBe(true);
    // As when a child of pgpool runs pgpool's exit callbacks (they unlink the pid file).
    rmSync(pidFile);
    const r = await lab.script(pool().name, 'pgpool-stop');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`has no pid file but runs as pid ${pid}`);
    expect(isAlive(pid)).toBe(false);
    expect(await accepting(pool().port)).toBe(false);
    holder = await holdPcpPort();
    await release();
    // Stopping again finds nothing to stop.
    const again = await lab.script(pool().name, 'pgpool-stop');
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('has no pid file');
    expect((await lab.script(pool().name, 'pgpool-start')).code).toBe(0);
    expect((await lab.status()).pgpools[0]).toMatchObject({ name: pool().name, up: true });
  });

  // As root, pgpool-start.sh runs pgpool in an IPC namespace of its own; a lab run by another user has
  // no namespaces to make, and a SIGKILLed pgpool of it still leaves its segments (README).
  (process.getuid?.() === 0 ? test : test.skip)(
    'a SIGKILLed pgpool leaves no shared memory or semaphores behind: they live in an IPC namespace of its own',
    async () => {
      const pid = parseInt(readFileSync(join(lab.pgpoolDir(pool().name), 'run', 'pgpool.pid'), 'utf8'), 10);
      expect(isAlive(pid)).toBe(true);
      /** /proc/sysvipc/<kind> rows (without the header), as the reader's IPC namespace holds them. */
      const rows = (text: string) =>
        text
          .split('\n')
          .slice(1)
          .filter((l) => l.trim())
          .map((l) => l.trim().split(/\s+/));
      const createdBy = (shmText: string, p: number) => rows(shmText).filter((f) => Number(f[4]) === p);
      const seenByPgpool = (kind: 'shm' | 'sem') =>
        runSync('nsenter', ['-t', String(pid), '--ipc', 'cat', `/proc/sysvipc/${kind}`]).stdout;
      // pgpool made its shared memory and semaphores, and only it sees them.
      expect(readlinkSync(`/proc/${pid}/ns/ipc`)).not.toBe(readlinkSync('/proc/self/ns/ipc'));
      expect(createdBy(seenByPgpool('shm'), pid).length).toBeGreaterThanOrEqual(1);
      expect(rows(seenByPgpool('sem')).length).toBeGreaterThanOrEqual(1);
      expect(createdBy(readFileSync('/proc/sysvipc/shm', 'utf8'), pid)).toEqual([]);
      // SIGKILL of pgpool and every child (its session's process group): no clean exit removes anything.
      process.kill(-pid, 'SIGKILL');
      await waitFor('pgpool gone', () => !isAlive(pid), 10_000);
      expect(createdBy(readFileSync('/proc/sysvipc/shm', 'utf8'), pid)).toEqual([]);
      // The stale pid file is no obstacle to the next start.
      expect((await lab.script(pool().name, 'pgpool-stop')).code).toBe(0);
      expect((await lab.script(pool().name, 'pgpool-start')).code).toBe(0);
      expect((await lab.status()).pgpools[0]).toMatchObject({ name: pool().name, up: true });
    },
  );

  test('the lab counts the running pgpool and its children as its own processes (lab down waits for them)', () => {
    const pid = parseInt(readFileSync(join(lab.pgpoolDir(pool().name), 'run', 'pgpool.pid'), 'utf8'), 10);
    expect(isAlive(pid)).toBe(true);
    const mine = lab.labPids();
    expect(mine).toContain(pid);
    const children = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((p) => parentOf(p) === pid);
    expect(children.length).toBeGreaterThan(2);
    for (const c of children) expect(mine).toContain(c);
  });

  test("pgpool's connections to the backends are probed when idle, so a backend the network silences fails them in seconds (patch 0003)", async () => {
    // A client session holds a pgpool child's connections to every backend, idle between statements.
    const c = await lab.client(pool().name, { user: 'app', database: 'app' });
    try {
      await c.query('select 1');
      const pgpoolPid = parseInt(readFileSync(join(lab.pgpoolDir(pool().name), 'run', 'pgpool.pid'), 'utf8'), 10);
      const backendPorts = new Set(lab.config().nodes.map((n) => String(n.port)));
      // ss -tpo: each established socket with its owner and its timer; pgpool's children are its own.
      const lines = runSync('ss', ['-Htnpo', 'state', 'established'])
        .stdout.split('\n')
        .filter((l) => backendPorts.has(l.trim().split(/\s+/)[3]?.split(':').pop() ?? ''))
        .filter((l) => [...l.matchAll(/pid=(\d+)/g)].some((m) => parentOf(Number(m[1])) === pgpoolPid));
      expect(lines.length).toBeGreaterThanOrEqual(lab.config().nodes.length);
      // Keepalive timers of at most 5 s (PGW_BACKEND_DEAD_AFTER_MS 10 s: first probe after 5 s idle).
      // ss prints them as "4.860ms" (4 s 860 ms), "5sec" or "860ms"; minutes would be the kernel's 2 h.
      for (const l of lines) expect(l).toMatch(/timer:\(keepalive,([1-5](sec|\.\d{3}ms)|\d{1,3}ms),/);
    } finally {
      await c.end();
    }
  });

  test("pgpool's Unix socket is in its own run directory, for its OS user only, never in /tmp", () => {
    const sock = join(lab.pgpoolDir(pool().name), 'run', `.s.PGSQL.${pool().port}`);
    expect(statSync(sock).isSocket()).toBe(true);
    expect(statSync(sock).mode & 0o077).toBe(0);
    expect(existsSync(`/tmp/.s.PGSQL.${pool().port}`)).toBe(false);
    expect(readFileSync(join(lab.pgpoolDir(pool().name), 'pool_hba.conf'), 'utf8')).not.toMatch(/trust/);
  });
});
