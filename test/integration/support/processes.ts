/** Processes of the machine, read from /proc: a pgpool's children and their titles, a process's TCP connections. */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

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

/**
 * A process's established TCP connections over IPv4, by socket inode, with their remote port (its
 * socket descriptors matched by inode against /proc/net/tcp).
 */
export function establishedConnections(pid: number): Map<string, number> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return new Map(); // gone
  }
  const out = new Map<string, number>();
  // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9])) continue;
    out.set(f[9], parseInt(f[2].split(':')[1], 16));
  }
  return out;
}
