/**
 * Network partitions in the lab. Every part of the lab talks over 127.0.0.1, so addresses cannot tell
 * sources apart: each database node, each pgpool and the control plane runs in its own cgroup (v2),
 * and iptables rules on the loopback's OUTPUT path match the sending socket's cgroup and the peer's
 * port. A partition between A and B marks every connection between them (either direction, new or
 * already open) and drops its packets: both sides see a silent network (timeouts), as in a real
 * partition, and a heal lets the same connections carry on. Processes outside the lab's cgroups
 * (your psql, a test's direct clients) are on no side: they still reach every node.
 *
 * Only rules in the lab's own chain (PGWARDEN-<port base>) are ever added or removed; `lab down`
 * removes the chain. Needs root, iptables (Debian's, nf_tables backend) and a cgroup v2 hierarchy.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { runSync } from './proc';

/** The lab's view needed here (kept narrow so that lab.ts can use this module without a cycle). */
export interface PartitionLab {
  config(): {
    portBase: number;
    apiPort: number;
    nodes: { name: string; port: number }[];
    pgpools: { name: string; port: number; pcpPort: number }[];
  };
}

export class PartitionError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'PartitionError';
  }
}

export const CONTROL = 'control';
const SOURCES = ['pgpool', 'standbys', 'nodes', 'control', 'all'] as const;
const MARK_MASK = '0xffff0000';

export interface PartitionPair {
  a: string;
  b: string;
}

/** The cgroup v2 mount point, or undefined when there is none. */
export function cgroup2Root(): string | undefined {
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mnt, type] = line.split(' ');
      if (type === 'cgroup2') return mnt;
    }
  } catch {
    /* no /proc */
  }
  return undefined;
}

export class Partitions {
  constructor(private readonly lab: PartitionLab) {}

  get chain(): string {
    return `PGWARDEN-${this.lab.config().portBase}`;
  }

  /** The lab's cgroup folder, relative to the cgroup v2 root (what `-m cgroup --path` takes). */
  get cgroupBase(): string {
    return `pgwarden-${this.lab.config().portBase}`;
  }

  /** Every part of the lab that gets a cgroup of its own. */
  components(): string[] {
    const c = this.lab.config();
    return [...c.nodes.map((n) => n.name), ...c.pgpools.map((p) => p.name), CONTROL];
  }

  /**
   * The cgroup.procs file a process of `component` is put in when it starts, or undefined when the lab
   * does not use cgroups (not root, or no cgroup v2): then everything runs as before.
   */
  procsFile(component: string): string | undefined {
    if (process.getuid?.() !== 0) return undefined;
    const root = cgroup2Root();
    if (!root) return undefined;
    const dir = join(root, this.cgroupBase, component);
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      return undefined;
    }
    return join(dir, 'cgroup.procs');
  }

  /** `cmd args` started inside the component's cgroup (the command itself when there is none). */
  wrap(component: string, cmd: string, args: string[]): [string, string[]] {
    const procs = this.procsFile(component);
    if (!procs) return [cmd, args];
    // A process that cannot be moved still runs (outside the partitions' reach).
    return ['/bin/sh', ['-c', 'echo $$ > "$1" 2>/dev/null; shift; exec "$@"', 'pgw-cgroup', procs, cmd, ...args]];
  }

  /** Why partitions cannot work here, or undefined. */
  problem(): string | undefined {
    if (process.getuid?.() !== 0) return 'lab partitions need root (iptables rules and cgroups): run as root';
    if (runSync('iptables', ['-V']).code !== 0)
      return 'iptables is missing: install it with "pgwarden doctor --install" (as root) or apt-get install iptables';
    if (!cgroup2Root()) return 'lab partitions need a cgroup v2 hierarchy (none is mounted)';
    return undefined;
  }

  private ports(component: string): number[] {
    const c = this.lab.config();
    if (component === CONTROL) return [c.apiPort];
    const n = c.nodes.find((x) => x.name === component);
    if (n) return [n.port];
    const p = c.pgpools.find((x) => x.name === component);
    if (p) return [p.port, p.pcpPort];
    throw new PartitionError(`unknown node "${component}" (parts of the lab: ${this.components().join(', ')})`);
  }

  /** The parts of the lab that `from` names, seen from `target` (never the target itself). */
  resolveSources(target: string, from: string): string[] {
    const c = this.lab.config();
    const out = new Set<string>();
    for (const word of from.split(',').map((w) => w.trim())) {
      if (word === 'pgpool') c.pgpools.forEach((p) => out.add(p.name));
      else if (word === 'standbys' || word === 'nodes') c.nodes.forEach((n) => out.add(n.name));
      else if (word === 'all') this.components().forEach((x) => out.add(x));
      else if (this.components().includes(word)) out.add(word);
      else
        throw new PartitionError(
          `--from must be ${SOURCES.join(', ')} or a part of the lab (${this.components().join(', ')}), got "${word}"`,
        );
    }
    out.delete(target);
    if (out.size === 0) throw new PartitionError(`--from ${from} names nothing but ${target} itself`);
    return [...out];
  }

  private iptables(args: string[], allowFail = false): { code: number; stdout: string; stderr: string } {
    const r = runSync('iptables', ['-w', '5', ...args]);
    if (r.code !== 0 && !allowFail)
      throw new PartitionError(`iptables ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  private ensureChain(): void {
    if (this.iptables(['-S', this.chain], true).code !== 0) this.iptables(['-N', this.chain]);
    const jump = ['OUTPUT', '-o', 'lo', '-j', this.chain];
    if (this.iptables(['-C', ...jump], true).code !== 0) this.iptables(['-I', ...jump]);
  }

  private comment(a: string, b: string): string {
    return `pgwarden ${a}~${b}`;
  }

  /** Cut `target` off from what `from` names (both directions). Returns the pairs now cut. */
  partition(target: string, from = 'all'): PartitionPair[] {
    const why = this.problem();
    if (why) throw new PartitionError(why);
    this.ports(target); // unknown target: a clear error before anything changes
    const sources = this.resolveSources(target, from);
    const comps = this.components();
    const root = cgroup2Root()!;
    for (const x of [target, ...sources]) {
      if (!existsSync(join(root, this.cgroupBase, x)))
        throw new PartitionError(
          `${x} has no cgroup of its own (the lab was started without them): run "pgwarden lab down" and "lab up" as root`,
        );
    }
    this.ensureChain();
    const existing = new Set(this.list().map((p) => `${p.a}~${p.b}`));
    const cut: PartitionPair[] = [];
    for (const s of sources) {
      const [a, b] = [target, s].sort((x, y) => comps.indexOf(x) - comps.indexOf(y));
      cut.push({ a, b });
      if (existing.has(`${a}~${b}`)) continue;
      const mark = `0x${((comps.indexOf(a) * 64 + comps.indexOf(b) + 1) << 16).toString(16)}`;
      const comment = ['-m', 'comment', '--comment', this.comment(a, b)];
      const set = ['-j', 'CONNMARK', '--set-xmark', `${mark}/${MARK_MASK}`];
      for (const [from_, to] of [
        [a, b],
        [b, a],
      ]) {
        this.iptables([
          '-A',
          this.chain,
          '-p',
          'tcp',
          '-m',
          'multiport',
          '--dports',
          this.ports(to).join(','),
          '-m',
          'cgroup',
          '--path',
          `${this.cgroupBase}/${from_}`,
          ...comment,
          ...set,
        ]);
      }
      this.iptables(['-A', this.chain, '-m', 'connmark', '--mark', `${mark}/${MARK_MASK}`, ...comment, '-j', 'DROP']);
    }
    return cut;
  }

  /** The pairs cut now. */
  list(): PartitionPair[] {
    const r = this.iptables(['-S', this.chain], true);
    if (r.code !== 0) return [];
    const seen = new Map<string, PartitionPair>();
    for (const m of r.stdout.matchAll(/--comment "?pgwarden ([^~"\s]+)~([^"\s]+)"?/g))
      seen.set(`${m[1]}~${m[2]}`, { a: m[1], b: m[2] });
    return [...seen.values()];
  }

  /** Heal the partitions of `target` (every partition when none is named). Returns the pairs healed. */
  heal(target?: string): PartitionPair[] {
    if (target !== undefined) this.ports(target);
    const r = this.iptables(['-S', this.chain], true);
    if (r.code !== 0) return [];
    const rules = r.stdout.split('\n').filter((l) => l.startsWith('-A '));
    const healed = new Map<string, PartitionPair>();
    const doomed: number[] = [];
    rules.forEach((l, i) => {
      const m = /--comment "?pgwarden ([^~"\s]+)~([^"\s]+)"?/.exec(l);
      if (!m || (target !== undefined && m[1] !== target && m[2] !== target)) return;
      healed.set(`${m[1]}~${m[2]}`, { a: m[1], b: m[2] });
      doomed.push(i + 1);
    });
    for (const n of doomed.reverse()) this.iptables(['-D', this.chain, String(n)]);
    return [...healed.values()];
  }

  /** Remove the lab's chain and its cgroups (lab down; lab up starts without partitions). */
  reset(opts: { cgroups?: boolean } = {}): void {
    if (process.getuid?.() !== 0 || runSync('iptables', ['-V']).code !== 0) return;
    const jump = ['OUTPUT', '-o', 'lo', '-j', this.chain];
    while (this.iptables(['-C', ...jump], true).code === 0) this.iptables(['-D', ...jump], true);
    if (this.iptables(['-S', this.chain], true).code === 0) {
      this.iptables(['-F', this.chain], true);
      this.iptables(['-X', this.chain], true);
    }
    const root = cgroup2Root();
    if (!opts.cgroups || !root) return;
    const base = join(root, this.cgroupBase);
    if (!existsSync(base)) return;
    for (const d of readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      try {
        rmdirSync(join(base, d.name));
      } catch {
        /* a process still in it: left for the next lab down */
      }
    }
    try {
      rmdirSync(base);
    } catch {
      /* not empty */
    }
  }
}
