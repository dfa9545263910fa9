/**
 * pgpool-II for the lab. pgwarden needs pgpool-II 4.5 or later: earlier releases end the session of
 * every client that runs a statement while pgpool processes a detach (a scale in, a maintenance
 * step), a failover or a failback; 4.5 makes those sessions wait for the end instead, polling once a
 * second (upstream commit 4aa657e). Debian 12 ships 4.3.5, so the lab builds the pgpool-II that
 * Debian 13 (trixie) ships, from Debian's source package: the upstream tarball, checked against a
 * pinned SHA-256, or, once Debian has moved on to a newer release, that one, checked against the
 * checksum in trixie's signed source index. The patches in pgpool-patches/ are applied (they shorten
 * what clients wait for while pgpool processes a failover, and make the extended query protocol as
 * cheap through pgpool as the simple one; each says why). Built once per machine
 * into a prefix of its own, named by the patches it carries (nothing of the system's is replaced);
 * `PGWARDEN_PGPOOL_BIN` points the lab at another pgpool-II instead (for example a packaged 4.5+).
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
  openSync,
  statSync,
  closeSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runSync, isAlive } from './proc';

/** The version built when none is installed; what Debian trixie ships. */
export const PGPOOL_VERSION = '4.6.1';
const PINNED_SHA256 = '0f8805d93bc40002c8019dc40ae03a71a3d144bd39f3dffe6fa01f7fc19bb8e8';
/** The oldest pgpool-II that keeps sessions through a failover or detach of a node they do not use. */
export const MIN_PGPOOL: [number, number] = [4, 5];
/** Debian packages the build needs (the tarball ships its generated parsers: no bison or flex). */
export const BUILD_PACKAGES = ['gcc', 'make', 'libc6-dev', 'libpq-dev', 'libssl-dev', 'curl', 'xz-utils', 'patch'];

/** The patches the build applies, in order (infra/local/pgpool-patches/*.patch). */
export const PATCH_DIR = join(__dirname, 'pgpool-patches');

export function pgpoolPatches(): { name: string; text: string }[] {
  return readdirSync(PATCH_DIR)
    .filter((f) => f.endsWith('.patch'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(PATCH_DIR, name), 'utf8') }));
}

/** Names a build by the patches it carries: a change of patches builds (and installs) anew. */
export function buildId(): string {
  const h = createHash('sha256');
  for (const p of pgpoolPatches()) h.update(`${p.name}\0${p.text}\0`);
  h.update(readFileSync(join(PATCH_DIR, 'apply.sh'), 'utf8'));
  return h.digest('hex').slice(0, 10);
}

const MIRROR = (process.env.PGWARDEN_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian').replace(/\/$/, '');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** A build's folder: this, then its buildId (10 hex digits). */
const BUILD_NAME = 'pgpool-II-pgw-';
const isBuildFolder = (name: string) =>
  name.startsWith(BUILD_NAME) && /^[0-9a-f]{10}$/.test(name.slice(BUILD_NAME.length));

/** Where the lab's pgpool-II is built: /usr/local for root (readable by the postgres user), else the user's cache. */
export function pgpoolPrefix(): string {
  if (process.env.PGWARDEN_PGPOOL_PREFIX) return process.env.PGWARDEN_PGPOOL_PREFIX;
  const base =
    process.getuid?.() === 0
      ? '/usr/local/lib/pgwarden'
      : join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pgwarden');
  return join(base, `${BUILD_NAME}${buildId()}`);
}

/** The directory holding pgpool and the pcp_* commands the lab runs. */
export function pgpoolBinDir(): string {
  return process.env.PGWARDEN_PGPOOL_BIN ?? join(pgpoolPrefix(), 'bin');
}

/** "4.6.1" from `pgpool --version` ("pgpool-II version 4.6.1 (chirikoboshi)"), or undefined. */
export function pgpoolVersion(bin = pgpoolBinDir()): string | undefined {
  if (!existsSync(join(bin, 'pgpool'))) return undefined;
  const r = runSync(join(bin, 'pgpool'), ['--version']);
  return /version\s+(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr)?.[1];
}

export function versionAtLeast(version: string, min: [number, number]): boolean {
  const [maj, minor] = version.split('.').map(Number);
  return maj > min[0] || (maj === min[0] && minor >= min[1]);
}

/** What is wrong with the lab's pgpool-II, or undefined when it is usable. */
export function pgpoolProblem(bin = pgpoolBinDir()): string | undefined {
  const missing = [
    'pgpool',
    'pcp_attach_node',
    'pcp_detach_node',
    'pcp_health_check_stats',
    'pcp_node_info',
    'pcp_promote_node',
  ].filter((f) => !existsSync(join(bin, f)));
  if (missing.length) return `pgpool-II is not installed in ${bin} (missing ${missing.join(', ')})`;
  const v = pgpoolVersion(bin);
  if (!v) return `${join(bin, 'pgpool')} --version printed no version`;
  if (!versionAtLeast(v, MIN_PGPOOL)) {
    return `pgpool-II ${v} in ${bin} is older than ${MIN_PGPOOL.join('.')}: it ends client sessions during a failover or detach`;
  }
  return undefined;
}

interface SourceTarball {
  version: string;
  url: string;
  sha256: string;
}

/**
 * The tarball to build: the pinned one while Debian's pool still has it, else the version trixie's
 * source index names, with the checksum from that index (whose own checksum comes from the
 * InRelease file that gpgv checks against Debian's archive keyring).
 */
function resolveSource(work: string, log: (m: string) => void): SourceTarball {
  const pinned = {
    version: PGPOOL_VERSION,
    url: `${MIRROR}/pool/main/p/pgpool2/pgpool2_${PGPOOL_VERSION}.orig.tar.gz`,
    sha256: PINNED_SHA256,
  };
  const head = runSync('curl', ['-sS', '-I', '-o', '/dev/null', '-w', '%{http_code}', '-m', '30', pinned.url]);
  if (head.stdout.trim() === '200') return pinned;
  log(
    `pgpool-II ${PGPOOL_VERSION} is no longer in Debian's pool (HTTP ${head.stdout.trim() || head.stderr.trim()}); reading trixie's source index`,
  );
  const inRelease = join(work, 'InRelease');
  download(`${MIRROR}/dists/trixie/InRelease`, inRelease);
  const verified = join(work, 'Release');
  const gpg = runSync('gpgv', ['--keyring', KEYRING, '--output', verified, inRelease]);
  if (gpg.code !== 0)
    throw new Error(`trixie's InRelease does not verify against ${KEYRING}: ${gpg.stderr.slice(-400)}`);
  const release = readFileSync(verified, 'utf8');
  const sha256Section = release.split(/^SHA256:$/m)[1] ?? '';
  const sourcesSha = / ([0-9a-f]{64})\s+\d+\s+main\/source\/Sources\.xz$/m.exec(sha256Section)?.[1];
  if (!sourcesSha) throw new Error("trixie's Release lists no main/source/Sources.xz");
  const sourcesXz = join(work, 'Sources.xz');
  download(`${MIRROR}/dists/trixie/main/source/Sources.xz`, sourcesXz);
  checkSha256(sourcesXz, sourcesSha);
  const xz = runSync('xz', ['-dc', sourcesXz]);
  if (xz.code !== 0) throw new Error(`xz -d Sources.xz failed: ${xz.stderr}`);
  const stanza = xz.stdout.split('\n\n').find((s) => /^Package: pgpool2$/m.test(s));
  const version = stanza && /^Version: (?:\d+:)?([\d.]+)-/m.exec(stanza)?.[1];
  const directory = stanza && /^Directory: (.+)$/m.exec(stanza)?.[1];
  const orig = `pgpool2_${version}.orig.tar.gz`;
  const sha256 = stanza && new RegExp(` ([0-9a-f]{64}) \\d+ ${orig.replace(/\./g, '\\.')}$`, 'm').exec(stanza)?.[1];
  if (!version || !directory || !sha256) throw new Error("trixie's source index has no pgpool2 tarball");
  if (!versionAtLeast(version, MIN_PGPOOL))
    throw new Error(`trixie's pgpool2 is ${version}, older than ${MIN_PGPOOL.join('.')}`);
  return { version, url: `${MIRROR}/${directory}/${orig}`, sha256 };
}

function download(url: string, to: string): void {
  const r = runSync('curl', ['-fsS', '--retry', '3', '-m', '300', '-o', to, url]);
  if (r.code !== 0) throw new Error(`download of ${url} failed: ${r.stderr.trim()}`);
}

function checkSha256(file: string, expected: string): void {
  const got = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (got !== expected) throw new Error(`${file}: SHA-256 ${got}, expected ${expected}`);
}

/** Takes the lock file, or says who holds it (0: being written or unreadable). */
function tryLock(lockFile: string): { held: false } | { held: true; by: number; ageMs: number } {
  try {
    const fd = openSync(lockFile, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    return { held: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  try {
    return {
      held: true,
      by: Number(readFileSync(lockFile, 'utf8').trim() || '0'),
      ageMs: Date.now() - statSync(lockFile).mtimeMs,
    };
  } catch {
    return { held: true, by: 0, ageMs: 0 }; // released meanwhile: try again
  }
}

/** One build at a time on a machine (parallel test files each bring a lab up). */
function withLock<T>(lockFile: string, log: (m: string) => void, fn: () => T): T {
  mkdirSync(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  let said = false;
  for (let l = tryLock(lockFile); l.held; l = tryLock(lockFile)) {
    const stale = l.by ? !isAlive(l.by) : l.ageMs > 5_000;
    if (stale) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`pgpool-II build lock ${lockFile} held by pid ${l.by} for 15 min`);
    if (!said) log(`waiting for the pgpool-II build by pid ${l.by}`);
    said = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500); // a blocking wait for the other build
  }
  try {
    return fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/**
 * Make sure the lab has a pgpool-II ≥ 4.5: builds one when none is installed (about a minute on 2
 * cores), installing the build's Debian packages with `ensurePackages` first. The install appears
 * under its prefix only once complete.
 */
export function ensurePgpool(
  ensurePackages: (pkgs: string[]) => void,
  log: (m: string) => void = console.error,
): string {
  const bin = pgpoolBinDir();
  const problem = pgpoolProblem(bin);
  if (!problem) return bin;
  if (process.env.PGWARDEN_PGPOOL_BIN) throw new Error(`PGWARDEN_PGPOOL_BIN: ${problem}`);
  const prefix = pgpoolPrefix();
  return withLock(`${prefix}.lock`, log, () => {
    if (!pgpoolProblem(bin)) return bin; // built meanwhile by another process
    ensurePackages(BUILD_PACKAGES);
    const work = mkdtempSync(join(tmpdir(), 'pgwarden-pgpool-'));
    try {
      const src = resolveSource(work, log);
      log(`building pgpool-II ${src.version} from Debian's source package into ${prefix} (about a minute)`);
      const tarball = join(work, 'pgpool.tar.gz');
      download(src.url, tarball);
      checkSha256(tarball, src.sha256);
      const untar = runSync('tar', ['-xzf', tarball, '-C', work]);
      if (untar.code !== 0) throw new Error(`tar: ${untar.stderr}`);
      const dir = join(work, `pgpool-II-${src.version}`);
      // The same script applies them to the RPM the AWS pgpool instances install.
      const r = runSync('bash', [join(PATCH_DIR, 'apply.sh'), dir]);
      for (const line of r.stdout.trim().split('\n').filter(Boolean)) log(`pgpool-II build: ${line}`);
      if (r.code !== 0) throw new Error(`pgpool-II ${src.version}: ${r.stderr.trim()}`);
      const staging = `${prefix}.partial`;
      rmSync(staging, { recursive: true, force: true });
      const steps: [string, string][] = [
        ['configure', `./configure --prefix='${prefix}' --with-openssl`],
        ['make', `make -j${availableCores()}`],
        ['make install', `make install DESTDIR='${staging}'`],
      ];
      for (const [name, cmd] of steps) {
        log(`pgpool-II build: ${name}`);
        const out = join(work, `${name.replace(' ', '-')}.log`);
        const r = runSync('sh', ['-c', `cd '${dir}' && ${cmd} >'${out}' 2>&1`]);
        if (r.code !== 0) {
          const tail = readFileSync(out, 'utf8').slice(-1500);
          throw new Error(`pgpool-II ${name} failed (exit ${r.code}): ${tail}`);
        }
      }
      // make install with DESTDIR puts the tree under staging + prefix; move it into place whole.
      rmSync(prefix, { recursive: true, force: true });
      mkdirSync(dirname(prefix), { recursive: true });
      renameSync(join(staging, prefix), prefix);
      rmSync(staging, { recursive: true, force: true });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const still = pgpoolProblem(bin);
    if (still) throw new Error(`after the build: ${still}`);
    log(`pgpool-II ${pgpoolVersion(bin)} installed in ${prefix}`);
    for (const gone of pruneOldBuilds(prefix)) log(`removed the earlier pgpool-II build ${gone}`);
    return bin;
  });
}

/**
 * Remove the earlier builds beside `current` (a change of patches builds anew under a new name, and
 * each build is about 20 MB), except one a running process was started from (a lab still up on it).
 * Only folders named as this file names its builds; returns the ones removed.
 */
export function pruneOldBuilds(current: string): string[] {
  const base = dirname(current);
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return [];
  }
  const old = names.filter((n) => isBuildFolder(n) && join(base, n) !== current).map((n) => join(base, n));
  if (!old.length) return [];
  const inUse = new Set<string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const d of old) if (exe.startsWith(`${d}/`)) inUse.add(d);
  }
  const removed = old.filter((d) => !inUse.has(d));
  for (const d of removed) rmSync(d, { recursive: true, force: true });
  return removed;
}

function availableCores(): number {
  return Math.max(1, Number(runSync('nproc', []).stdout.trim()) || 1);
}
