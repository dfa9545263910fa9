/**
 * The lab's folder is private, and the Redis password never reaches a command line. The Redis part
 * runs a real redis-server with a password, on this file's own port.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCli } from '../../../infra/local/lab';
import { ensurePrivateDir } from '../../../infra/local/private-dir';
import { run, waitFor } from '../../../infra/local/proc';
import { testPortBase } from '../../integration/support/lab';

const me = process.getuid!();
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'pgw-private-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the lab folder', () => {
  it('is created private (0700) when missing, parents included', () => {
    const dir = join(root, 'a', 'lab');
    ensurePrivateDir(dir, [me]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('is refused, unchanged, when someone could have prepared it: a symlink, group-writable, another owner', () => {
    const target = join(root, 'elsewhere');
    mkdirSync(target);
    const link = join(root, 'link');
    symlinkSync(target, link);
    expect(() => ensurePrivateDir(link, [me])).toThrow('is a symbolic link');

    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => ensurePrivateDir(open, [me])).toThrow('writable by group or others (mode 777)');
    expect(statSync(open).mode & 0o777).toBe(0o777);

    const theirs = join(root, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    expect(() => ensurePrivateDir(theirs, [me + 1])).toThrow(`belongs to uid ${me}`);
  });
});

describe('redis-cli', () => {
  const port = testPortBase(27200);
  const dir = () => join(root, 'redis');
  const password = 'pw-' + 'x'.repeat(20);

  beforeAll(async () => {
    mkdirSync(dir(), { recursive: true });
    const r = await run('redis-server', [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--daemonize',
      'yes',
      '--dir',
      dir(),
      '--pidfile',
      join(dir(), 'redis.pid'),
      '--save',
      '',
      // The test's own server; the lab writes requirepass into its redis.conf (mode 0600) instead.
      '--requirepass',
      password,
    ]);
    expect(r.code).toBe(0);
    await waitFor('redis', () => existsSync(join(dir(), 'redis.pid')), 10_000, 50);
  });
  afterAll(() => {
    const pid = Number(readFileSync(join(dir(), 'redis.pid'), 'utf8'));
    if (pid) process.kill(pid, 'SIGTERM');
  });

  it('gets the password from the environment, not its arguments, and is let in', async () => {
    const call = redisCli(port, password, ['PING']);
    expect(call.args.join(' ')).not.toContain(password);
    expect(call.env.REDISCLI_AUTH).toBe(password);
    const ok = await run('redis-cli', call.args, { env: call.env, timeoutMs: 5000 });
    expect(ok.stdout.trim()).toBe('PONG');
    // The same call without the variable is refused: the password really travels that way.
    const refused = await run('redis-cli', call.args, { env: { PATH: process.env.PATH }, timeoutMs: 5000 });
    expect(refused.stdout + refused.stderr).toMatch(/NOAUTH/);
  });
});
