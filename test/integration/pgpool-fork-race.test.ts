/**
 * pgpool patch 0009: a child that pgpool's main process has just forked, hit by a signal before it
 * set itself up (a failover's SIGQUIT to every child reaches one the reaper forked a moment before),
 * must not run the main process's exit callbacks. Stock pgpool-II 4.6.1 did: the child removed
 * pgpool's semaphore set, and pgpool went on with every lock failing ("failed to lock semaphore").
 *
 * The race made deterministic: pgpool runs with a preloaded fork() that, once, signals the new child
 * with SIGQUIT at the first instruction after the fork (the moment the real signal hit it), and a
 * connection child of pgpool is killed so that the main process forks a replacement.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freshLab } from './support/lab';
import { childrenOf, cmdline } from './support/processes';
import { readPid } from '../../infra/local/lab/processes';
import { isAlive, runSync, waitFor } from '../../infra/local/proc';

const SHIM = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* fork(); in the child, once (whoever removes the trigger file), SIGQUIT at once, unblocked. */
pid_t fork(void) {
  static pid_t (*real_fork)(void);
  if (!real_fork) real_fork = (pid_t (*)(void)) dlsym(RTLD_NEXT, "fork");
  pid_t pid = real_fork();
  const char *trigger = getenv("PGW_TEST_FORK_SIGQUIT_FILE");
  if (pid == 0 && trigger && unlink(trigger) == 0) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGQUIT);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(SIGQUIT);
  }
  return pid;
}
`;

// Readable (and the trigger removable) by the database's OS user, which pgpool runs as.
const shimDir = mkdtempSync(join(tmpdir(), 'pgw-fork-shim-'));
chmodSync(shimDir, 0o777);
const shim = join(shimDir, 'fork-sigquit.so');
const trigger = join(shimDir, 'signal-next-child');

const lab = freshLab(27700, {
  standbys: 1,
  // pgpool's LOG lines too (the lab's default is warnings): "exit handler called" marks the signal's arrival
  pgpoolEnv: { LD_PRELOAD: shim, PGW_TEST_FORK_SIGQUIT_FILE: trigger, PGW_PGPOOL_LOG_LEVEL: 'info' },
});

beforeAll(async () => {
  writeFileSync(join(shimDir, 'fork-sigquit.c'), SHIM);
  const cc = runSync('gcc', ['-shared', '-fPIC', '-O1', '-o', shim, join(shimDir, 'fork-sigquit.c'), '-ldl']);
  if (cc.code !== 0) throw new Error(`gcc failed: ${cc.stderr}`);
  chmodSync(shim, 0o755);
  await lab.up();
}, 180_000);

afterAll(async () => {
  await lab.down({ purge: true });
  rmSync(shimDir, { recursive: true, force: true });
}, 60_000);

async function selectOneThroughPgpool(): Promise<number> {
  const c = new Client({
    connectionString: lab.connectionString('pgpool', 'app', 'app'),
    connectionTimeoutMillis: 5000,
  });
  await c.connect();
  try {
    return (await c.query('select 1 as one')).rows[0].one as number;
  } finally {
    await c.end();
  }
}

/** The semaphore sets pgpool sees: as root it runs in an IPC namespace of its own (pgpool-start.sh). */
const semaphoreSets = (pid: number) =>
  runSync('nsenter', ['-t', String(pid), '--ipc', 'cat', '/proc/sysvipc/sem'])
    .stdout.split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/)[1]);

// Only as root does pgpool get an IPC namespace of its own, where its semaphore set can be told apart
// from every other process's (/proc/sysvipc/sem names no creator); CI runs as root.
(process.getuid?.() === 0 ? test : test.skip)(
  'a pgpool child signalled before it set itself up leaves pgpool its semaphores (patch 0009)',
  async () => {
    const pool = lab.config().pgpools[0];
    const logFile = join(lab.pgpoolDir(pool.name), 'log', 'pgpool.log');
    const main = readPid(join(lab.pgpoolDir(pool.name), 'run', 'pgpool.pid'))!;
    expect(isAlive(main)).toBe(true);
    expect(await selectOneThroughPgpool()).toBe(1);
    const sets = semaphoreSets(main);
    expect(sets.length).toBeGreaterThanOrEqual(1);
    const offset = statSync(logFile).size;

    // One connection child is killed; pgpool's main process forks its replacement, which is signalled.
    // (SIGKILL: a child that exits on SIGTERM asks not to be replaced)
    writeFileSync(trigger, '');
    chmodSync(trigger, 0o666);
    const child = childrenOf(main).find((p) => cmdline(p).includes('wait for connection request'));
    expect(child).toBeDefined();
    process.kill(child!, 'SIGKILL');
    await waitFor('the replacement child to be forked (and signalled)', () => !existsSync(trigger), 20_000);
    await waitFor(
      'the signalled child to be gone',
      () => readFileSync(logFile, 'utf8').slice(offset).includes('exit handler called (signal: 3)'),
      20_000,
    );

    // pgpool keeps its semaphore set and still serves, and nothing failed to take a lock meanwhile.
    expect(semaphoreSets(main)).toEqual(sets);
    for (let i = 0; i < 5; i++) expect(await selectOneThroughPgpool()).toBe(1);
    expect(isAlive(main)).toBe(true);
    const added = readFileSync(logFile, 'utf8').slice(offset);
    expect(added.match(/.*failed to (un)?lock semaphore.*/g) ?? []).toEqual([]);
  },
);
