/**
 * Which pgpool-II the lab accepts: 4.5 or later, with the pcp commands the node scripts run.
 * (The build itself runs in `doctor --install`, before any test; every lab test then uses it.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  PATCH_DIR,
  pgpoolBinDir,
  pgpoolPatches,
  pgpoolProblem,
  pgpoolVersion,
  pruneOldBuilds,
  versionAtLeast,
} from '../../infra/local/pgpool-build';

/** Every folder the tests make, removed at the end. */
const made: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pgw-pgpoolbin-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function fakeBin(
  versionLine: string,
  commands = ['pcp_attach_node', 'pcp_detach_node', 'pcp_health_check_stats', 'pcp_node_info', 'pcp_promote_node'],
) {
  const dir = tempDir();
  writeFileSync(join(dir, 'pgpool'), `#!/bin/sh\necho "${versionLine}"\n`);
  chmodSync(join(dir, 'pgpool'), 0o755);
  for (const c of commands) writeFileSync(join(dir, c), '');
  return dir;
}

test('versions from 4.5 on are accepted, older ones are not', () => {
  expect(versionAtLeast('4.5.0', [4, 5])).toBe(true);
  expect(versionAtLeast('4.6.1', [4, 5])).toBe(true);
  expect(versionAtLeast('5.0', [4, 5])).toBe(true);
  expect(versionAtLeast('4.4.9', [4, 5])).toBe(false);
  expect(versionAtLeast('4.3.5', [4, 5])).toBe(false);
  expect(versionAtLeast('3.9', [4, 5])).toBe(false);
});

test("pgpool-II 4.3 (Debian 12's) is refused, naming why", () => {
  const bin = fakeBin('pgpool-II version 4.3.5 (tamahomeboshi)');
  expect(pgpoolVersion(bin)).toBe('4.3.5');
  expect(pgpoolProblem(bin)).toBe(
    `pgpool-II 4.3.5 in ${bin} is older than 4.5: it ends client sessions during a failover or detach`,
  );
});

test('a pgpool-II 4.6 with its pcp commands is usable', () => {
  expect(pgpoolProblem(fakeBin('pgpool-II version 4.6.1 (chirikoboshi)'))).toBeUndefined();
});

test('a missing pcp command or an unreadable version is reported', () => {
  const noPcp = fakeBin('pgpool-II version 4.6.1 (chirikoboshi)', ['pcp_attach_node']);
  expect(pgpoolProblem(noPcp)).toBe(
    `pgpool-II is not installed in ${noPcp} (missing pcp_detach_node, pcp_health_check_stats, pcp_node_info, pcp_promote_node)`,
  );
  const garbled = fakeBin('hello');
  expect(pgpoolProblem(garbled)).toBe(`${join(garbled, 'pgpool')} --version printed no version`);
  const empty = tempDir();
  expect(pgpoolProblem(empty)).toMatch(/^pgpool-II is not installed in .* \(missing pgpool, pcp_attach_node/);
});

test('the lab uses PGWARDEN_PGPOOL_BIN when it is set', () => {
  const saved = process.env.PGWARDEN_PGPOOL_BIN;
  try {
    process.env.PGWARDEN_PGPOOL_BIN = '/opt/pgpool-4.5/bin';
    expect(pgpoolBinDir()).toBe('/opt/pgpool-4.5/bin');
  } finally {
    if (saved === undefined) delete process.env.PGWARDEN_PGPOOL_BIN;
    else process.env.PGWARDEN_PGPOOL_BIN = saved;
  }
});

test('a patch that does not apply stops the build, naming the patch (the script both builds run)', () => {
  const src = tempDir();
  for (const f of ['src/main/pgpool_main.c', 'src/context/pool_query_context.c']) {
    mkdirSync(join(src, dirname(f)), { recursive: true });
    writeFileSync(join(src, f), 'not pgpool-II 4.6.1\n');
  }
  const r = spawnSync('bash', [join(PATCH_DIR, 'apply.sh'), src], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`patch ${pgpoolPatches()[0].name} does not apply to ${src}`);
});

test('a new build removes the earlier builds beside it, except one a running process was started from', async () => {
  const base = tempDir();
  const build = (id: string) => {
    const d = join(base, `pgpool-II-pgw-${id}`);
    mkdirSync(join(d, 'bin'), { recursive: true });
    return d;
  };
  const current = build('cccccccccc');
  const idle = build('aaaaaaaaaa');
  const running = build('bbbbbbbbbb');
  const other = join(base, 'pgpool-II-4.6.1'); // not named as the build names its folders
  mkdirSync(other);
  // A process started from the `running` build (a lab still up on it): a copy of sleep as its pgpool.
  copyFileSync('/bin/sleep', join(running, 'bin', 'pgpool'));
  chmodSync(join(running, 'bin', 'pgpool'), 0o755);
  const child = spawn(join(running, 'bin', 'pgpool'), ['30'], { stdio: 'ignore' });
  try {
    await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    expect(pruneOldBuilds(current)).toEqual([idle]);
    expect([current, idle, running, other].map(existsSync)).toEqual([true, false, true, true]);
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
  expect(pruneOldBuilds(current)).toEqual([running]);
  expect(pruneOldBuilds(join(tempDir(), 'missing', 'pgpool-II-pgw-cccccccccc'))).toEqual([]);
});
