/**
 * The lab's control plane in a real lab: only the holder of the lab's API token, sending JSON, gets
 * in; pgpool's failover hook (run as the database OS user, as pgpool runs it) still does, without the
 * token on its command line.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freshLab } from './support/lab';
import { run } from '../../infra/local/proc';

describe('lab control plane access', () => {
  const lab = freshLab(27300);
  let plain: string;

  beforeAll(async () => {
    await lab.up();
    plain = `http://127.0.0.1:${lab.config().apiPort}`;
  }, 180_000);

  afterAll(async () => {
    await lab.down({ purge: true });
  }, 60_000);

  test('the token is a 0600 file of the lab, and the lab folder is not open to others', () => {
    const st = statSync(join(lab.controlDir, 'api-token'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(statSync(lab.dir).mode & 0o022).toBe(0);
  });

  test('refuses a request without the token, and a form post with it; the operator is not started', async () => {
    const before = ((await (await fetch(`${lab.apiUrl}/v1/executions`)).json()) as { executions: unknown[] }).executions
      .length;
    const noToken = await fetch(`${plain}/v1/failover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"reason":"no token"}',
    });
    const form = await fetch(`${lab.apiUrl}/v1/failover`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'reason=form',
    });
    const status = await fetch(`${plain}/v1/status`);
    expect([noToken.status, form.status, status.status]).toEqual([401, 415, 401]);
    const after = ((await (await fetch(`${lab.apiUrl}/v1/executions`)).json()) as { executions: unknown[] }).executions
      .length;
    expect(after).toBe(before);
  });

  test("pgpool's hook reaches the API with the token from a file, as the OS user pgpool runs as", async () => {
    const pool = lab.config().pgpools[0].name;
    // The hook's environment as pgpool.env gives it (sourced by bash): the URL's file, never the token.
    const envFile = join(lab.pgpoolDir(pool), 'pgpool.env');
    const env = readFileSync(envFile, 'utf8');
    const token = readFileSync(join(lab.controlDir, 'api-token'), 'utf8').trim();
    expect(env).toContain(`PGW_TRIGGER_URL_FILE='${join(lab.controlDir, 'pgpool-hook.url')}'`);
    expect(env).not.toContain(token);
    // The hook itself, as pgpool runs it, for backend 7 (no node of the lab): the API answers 400 with
    // its reason (admitted, not 401), and the hook logs it and exits 0.
    const hook = join(lab.scriptsDir, 'pgpool-failover-hook.sh');
    const args = ['7', '127.0.0.1', '1', '-1', '0', '0', '', '0', '', '0'];
    const user = lab.config().osUser;
    const env2 = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGW_NODE_ENV: envFile };
    const r = user
      ? await run('runuser', ['-u', user, '--', 'env', `PGW_NODE_ENV=${envFile}`, 'bash', hook, ...args], {
          timeoutMs: 30_000,
        })
      : await run('bash', [hook, ...args], { env: env2, timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    const log = readFileSync(join(lab.pgpoolDir(pool), 'log', 'failover-hook.log'), 'utf8');
    expect(log).toMatch(/trigger \(exit 1\): HTTP\/1\.1 400 .*backend 7 is not a node of cluster lab/);
  });
});
