/**
 * The lab needs PostgreSQL 15 and Redis from Debian, and pgpool-II 4.5 or later (built from Debian
 * trixie's source package when none is installed: pgpool-build.ts). Missing packages are installed
 * with apt-get when we run as root; otherwise the error names the command to run.
 */
import { existsSync, writeFileSync, unlinkSync } from 'node:fs';
import { runSync } from './proc';
import { ensurePgpool, pgpoolProblem } from './pgpool-build';

export const PGBIN = process.env.PGWARDEN_PGBIN ?? '/usr/lib/postgresql/15/bin';

interface Requirement {
  pkg: string;
  files: string[];
  forTests?: boolean;
  rootOnly?: boolean;
}

const REQUIREMENTS: Requirement[] = [
  {
    pkg: 'postgresql-15',
    files: ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup', 'pg_rewind', 'psql', 'pgbench'].map(
      (b) => `${PGBIN}/${b}`,
    ),
  },
  { pkg: 'redis-server', files: ['/usr/bin/redis-server'] },
  { pkg: 'curl', files: ['/usr/bin/curl'] },
  { pkg: 'iproute2', files: ['/usr/sbin/ip', '/bin/ip'] },
  // The dashboard's end-to-end test drives the system's Chromium (playwright-core, no downloaded browser).
  { pkg: 'chromium', files: ['/usr/bin/chromium'] },
  // The digest bench's reference (npm run bench -- digest compares against pgBadger -j 1).
  { pkg: 'pgbadger', files: ['/usr/bin/pgbadger'] },
  // Lab partitions (infra/local/partition.ts); only root can use them.
  { pkg: 'iptables', files: ['/usr/sbin/iptables'], rootOnly: true },
];

function missingPackages(reqs = REQUIREMENTS): string[] {
  // iproute2 may live in /usr/sbin or /bin: a requirement is met when any of its files exists for
  // multi-location tools, all of them otherwise.
  return reqs
    .filter((r) => !r.rootOnly || process.getuid?.() === 0)
    .filter((r) => (r.pkg === 'iproute2' ? !r.files.some((f) => existsSync(f)) : !r.files.every((f) => existsSync(f))))
    .map((r) => r.pkg);
}

export function ensureSystemPackages(log: (m: string) => void = console.error): void {
  installPackages(missingPackages(), log);
  const still = missingPackages();
  if (still.length) throw new Error(`still missing after apt-get: ${still.join(', ')}`);
  ensurePgpool((pkgs) => installPackages(pkgs, log), log);
}

/** What `doctor` reports missing: Debian packages, and a usable pgpool-II. */
export function missingRequirements(): string[] {
  const problem = pgpoolProblem();
  return [...missingPackages(), ...(problem ? [problem] : [])];
}

function installPackages(pkgs: string[], log: (m: string) => void): void {
  const missing = [...new Set(pkgs.filter((p) => !dpkgInstalled(p)))];
  if (missing.length === 0) return;
  const cmd = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`pgwarden needs the Debian packages ${missing.join(', ')}. Run as root: ${cmd}`);
  }
  log(`installing ${missing.join(', ')} (apt-get)`);
  // Packaged services must not start on the standard ports: the lab starts its own instances.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const upd = runSync('apt-get', ['update', '-qq'], env);
    if (upd.code !== 0) throw new Error(`apt-get update failed: ${upd.stderr.slice(-500)}`);
    const inst = runSync('apt-get', ['install', '-y', '-qq', ...missing], env);
    if (inst.code !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${inst.stderr.slice(-800)}`);
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
}

function dpkgInstalled(pkg: string): boolean {
  const r = runSync('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return r.code === 0 && r.stdout.includes('install ok installed');
}
