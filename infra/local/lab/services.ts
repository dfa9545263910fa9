/**
 * The lab's services beside the database: Redis (ElastiCache's stand-in) and the control plane
 * process (the AWS services' stand-in, infra/local/controlplane), started in the background with a
 * pid file and stopped by `lab down`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readApiToken } from '../controlplane/guard';
import { isAlive, run, waitFor } from '../proc';
import { LabError, REPO_ROOT } from './config';
import type { Lab } from './lab';
import { readPid } from './processes';

// ---------- redis ----------

/**
 * A redis-cli call: the password travels in REDISCLI_AUTH (redis-cli reads it from the environment),
 * never on the command line, which any local user sees in ps.
 */
export function redisCli(
  port: number,
  password: string,
  command: string[],
  env: NodeJS.ProcessEnv = process.env,
): { args: string[]; env: NodeJS.ProcessEnv } {
  return { args: ['-h', '127.0.0.1', '-p', String(port), ...command], env: { ...env, REDISCLI_AUTH: password } };
}

export async function redisUp(lab: Lab): Promise<void> {
  const c = lab.config();
  mkdirSync(lab.redisDir, { recursive: true });
  const pidFile = join(lab.redisDir, 'redis.pid');
  const pid = readPid(pidFile);
  if (pid && isAlive(pid)) return;
  writeFileSync(
    join(lab.redisDir, 'redis.conf'),
    [
      `bind 127.0.0.1`,
      `port ${c.redisPort}`,
      `protected-mode yes`,
      `daemonize yes`,
      `pidfile ${pidFile}`,
      `logfile ${join(lab.redisDir, 'redis.log')}`,
      `dir ${lab.redisDir}`,
      `requirepass ${lab.secrets().PGW_PW_REDIS}`,
      `save ""`,
      `appendonly no`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const r = await run('redis-server', [join(lab.redisDir, 'redis.conf')], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new LabError(`redis-server failed: ${r.stderr || r.stdout}`);
  await waitFor('redis', () => redisPing(lab), 10_000);
}

export async function redisPing(lab: Lab): Promise<boolean> {
  const c = lab.config();
  const call = redisCli(c.redisPort, lab.secrets().PGW_PW_REDIS, ['PING']);
  const r = await run('redis-cli', call.args, { timeoutMs: 3000, env: call.env }).catch(() => undefined);
  return !!r && r.stdout.trim() === 'PONG';
}

export function redisDown(lab: Lab): void {
  const pid = readPid(join(lab.redisDir, 'redis.pid'));
  if (pid && isAlive(pid)) process.kill(pid, 'SIGTERM');
}

/** A Redis outage (the app must degrade to the database): stop Redis and wait until it is gone. */
export async function redisStop(lab: Lab): Promise<void> {
  const pid = readPid(join(lab.redisDir, 'redis.pid'));
  redisDown(lab);
  if (pid) await waitFor('redis to exit', () => !isAlive(pid), 10_000);
}

// ---------- control plane ----------

/** The control plane's URL with the lab's API token (infra/local/controlplane/guard.ts). */
export function apiUrl(lab: Lab): string {
  return `http://127.0.0.1:${lab.config().apiPort}/${readApiToken(lab.controlDir)}`;
}

export async function apiHealthy(lab: Lab): Promise<boolean> {
  try {
    const r = await fetch(`${lab.apiUrl}/v1/health`, { signal: AbortSignal.timeout(1000) });
    if (!r.ok) return false;
    const body = (await r.json()) as { dir?: string };
    return body.dir === lab.dir;
  } catch {
    return false;
  }
}

export async function controlPlaneUp(lab: Lab): Promise<void> {
  if (await apiHealthy(lab)) return;
  const pidFile = join(lab.controlDir, 'controlplane.pid');
  const old = readPid(pidFile);
  if (old && isAlive(old)) process.kill(old, 'SIGTERM');
  const out = openSync(join(lab.controlDir, 'controlplane.log'), 'a');
  const [cmd, args] = lab.partitions.wrap('control', process.execPath, [
    '--import',
    'tsx',
    join(REPO_ROOT, 'infra', 'local', 'controlplane', 'main.ts'),
    lab.dir,
  ]);
  const child = spawn(cmd, args, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      PGWARDEN_LAB_DIR: lab.dir,
    },
  });
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  await waitFor('the control plane API', () => apiHealthy(lab), 30_000, 100);
}

export async function controlPlaneDown(lab: Lab): Promise<void> {
  const pidFile = join(lab.controlDir, 'controlplane.pid');
  const pid = readPid(pidFile);
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await waitFor('the control plane to exit', () => !isAlive(pid), 10_000).catch(() => process.kill(pid, 'SIGKILL'));
}
