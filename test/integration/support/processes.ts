/** Processes of the machine, read from /proc: a pgpool's children and their titles. */
import { readFileSync, readdirSync } from 'node:fs';

/** The pids of a process's children (from /proc/<pid>/stat's ppid field). */
export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, the fields after its last ")" do not
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A process's command line, arguments joined by spaces (pgpool's processes show their title there); '' when gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/**
 * A pgpool's children that serve clients, by pid, with their title: "wait for connection request",
 * "accept connection", or the client's user, database, address and state. Workers, the PCP child and
 * the health checks name themselves and are left out.
 */
export function pgpoolClientChildren(mainPid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const pid of childrenOf(mainPid)) {
    const m = /^pgpool: (.*?)\s*$/.exec(cmdline(pid));
    if (m && !/worker|PCP|health check|logger|watchdog/i.test(m[1])) out.set(pid, m[1]);
  }
  return out;
}
