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
    // The file as the hook script reads it (sourced by bash).
    const envFile = join(lab.pgpoolDir(pool), 'pgpool.env');
    const cmd = (await run('bash', ['-c', `. '${envFile}'; printf %s "$PGW_TRIGGER_CMD"`])).stdout;
    expect(cmd).toContain(`-K '${join(lab.controlDir, 'pgpool-hook.curl')}'`);
    expect(cmd).not.toContain(readFileSync(join(lab.controlDir, 'api-token'), 'utf8').trim());
    // Backend 7 is no node of the lab: the API answers 400 with its reason (admitted, not 401).
    const event = JSON.stringify({ source: 'pgpool', pgpool: pool, failedNodeId: 7 });
    const user = lab.config().osUser;
    const r = user
      ? await run('runuser', ['-u', user, '--', 'bash', '-c', cmd], { input: event, timeoutMs: 30_000 })
      : await run('bash', ['-c', cmd], { input: event, timeoutMs: 30_000 });
    expect(r.stdout).toContain('backend 7 is not a node of cluster lab');
  });
});
