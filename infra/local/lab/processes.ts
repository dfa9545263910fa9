/** Which processes are the lab's: pid files, and /proc (a node's processes run in its data directory). */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { appPid } from '../app-process';
import { isAlive } from '../proc';
import type { Lab } from './lab';

/** Every pid this lab owns (postmasters and their children, pgpool, redis, control plane). */
export function labPids(lab: Lab): number[] {
  const c = lab.config();
  const pids: number[] = [];
  const dirs = new Set(c.nodes.map((n) => realpath(lab.dataDir(n.name))));
  for (const e of listProc()) {
    if (dirs.has(e.cwd)) pids.push(e.pid);
  }
  for (const f of [
    ...c.pgpools.map((p) => join(lab.pgpoolDir(p.name), 'run', 'pgpool.pid')),
    join(lab.redisDir, 'redis.pid'),
    join(lab.controlDir, 'controlplane.pid'),
  ]) {
    const pid = readPid(f);
    if (pid && isAlive(pid)) pids.push(pid);
  }
  const app = appPid(lab);
  if (app) pids.push(app);
  // pgpool children share the parent's process group.
  for (const p of c.pgpools) {
    const pid = readPid(join(lab.pgpoolDir(p.name), 'run', 'pgpool.pid'));
    if (pid) for (const e of listProc()) if (e.ppid === pid) pids.push(e.pid);
  }
  return [...new Set(pids)];
}

/** The node's processes: every process whose working directory is its data directory. */
export function nodeProcesses(lab: Lab, name: string): number[] {
  const d = realpath(lab.dataDir(name));
  return listProc()
    .filter((e) => e.cwd === d)
    .map((e) => e.pid);
}

export function readPid(file: string): number | undefined {
  try {
    // pgpool writes its pid file with the C string's terminating NUL byte: Number() of that is NaN.
    const n = Number(readFileSync(file, 'utf8').replace(/\0/g, '').split('\n')[0].trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function realpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function listProc(): { pid: number; ppid: number; cwd: string }[] {
  const out: { pid: number; ppid: number; cwd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, cwd });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}
