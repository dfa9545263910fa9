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

/** The inodes of a process's sockets (empty when it is gone). */
function socketInodes(pid: number): Set<string> {
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
    // gone
  }
  return inodes;
}

/** A socket address's port, as /proc/net/tcp writes it (hex after the colon). */
const portOf = (addr: string) => parseInt(addr.split(':')[1], 16);

/**
 * The established IPv4 TCP connections of /proc/net/tcp, each row's fields:
 * sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
 */
function establishedTcpRows(): string[][] {
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 10 && f[3] === '01');
}

/**
 * A process's established TCP connections over IPv4, by socket inode, with their remote port (its
 * socket descriptors matched by inode against /proc/net/tcp).
 */
export function establishedConnections(pid: number): Map<string, number> {
  const inodes = socketInodes(pid);
  return new Map(
    establishedTcpRows()
      .filter((f) => inodes.has(f[9]))
      .map((f) => [f[9], portOf(f[2])]),
  );
}

/**
 * Bytes that process `pid` sent over its established IPv4 TCP connections to `port` and that the
 * other end has not read yet (the server side's rx_queue in /proc/net/tcp): its requests waiting on a
 * frozen server.
 */
export function unreadBytesFrom(pid: number, port: number): number {
  const inodes = socketInodes(pid);
  const rows = establishedTcpRows();
  const mine = new Set(rows.filter((f) => inodes.has(f[9]) && portOf(f[2]) === port).map((f) => portOf(f[1])));
  return rows
    .filter((f) => portOf(f[1]) === port && mine.has(portOf(f[2])))
    .reduce((n, f) => n + parseInt(f[4].split(':')[1], 16), 0);
}
