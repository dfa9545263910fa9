/**
 * The app as a lab process: `lab up` starts it on the lab's app port (pid file, log in the control
 * folder), `lab down` stops it with SIGTERM. Benches and tests can start more instances with other
 * settings on other ports (spawnApp).
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Lab } from './lab';
import { isAlive, waitFor } from './proc';

const REPO_ROOT = resolve(__dirname, '..', '..');

export interface AppProcess {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** The environment the app reads (app/config.ts), pointing at this lab. */
export function appEnv(lab: Lab, port = lab.config().appPort): Record<string, string> {
  const c = lab.config();
  const s = lab.secrets();
  return {
    PGWARDEN_APP_HOST: '127.0.0.1',
    PGWARDEN_APP_PORT: String(port),
    PGWARDEN_APP_DATABASE_URL: lab.connectionString('pgpool', 'app', 'app'),
    PGWARDEN_APP_REDIS_URL: `redis://:${s.PGW_PW_REDIS}@127.0.0.1:${c.redisPort}/0`,
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${c.xrayPort}`,
    PGWARDEN_CONTROL_PLANE_URL: lab.apiUrl,
  };
}

export const appUrl = (lab: Lab) => `http://127.0.0.1:${lab.config().appPort}`;
const pidFile = (lab: Lab) => join(lab.controlDir, 'app.pid');

export function appPid(lab: Lab): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(lab), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Start an app process; returns when it answers /healthz. */
export async function spawnApp(
  lab: Lab,
  opts: { port?: number; env?: Record<string, string>; logFile?: string } = {},
): Promise<AppProcess> {
  const port = opts.port ?? lab.config().appPort;
  const out = openSync(opts.logFile ?? join(lab.controlDir, `app-${port}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'app', 'main.ts')], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...appEnv(lab, port), ...opts.env },
  });
  child.unref();
  const pid = child.pid!;
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `the app on ${url}`,
    async () => (isAlive(pid) ? healthy(url) : Promise.reject(new Error('app exited'))),
    30_000,
    100,
  );
  return { pid, url, stop: () => stopPid(pid) };
}

async function stopPid(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await waitFor('the app to exit', () => !isAlive(pid), 10_000, 50).catch(() => process.kill(pid, 'SIGKILL'));
}

/** `lab up`: the app on the lab's app port, once. */
export async function appUp(lab: Lab): Promise<void> {
  if (appPid(lab) && (await healthy(appUrl(lab)))) return;
  const old = appPid(lab);
  if (old) await stopPid(old);
  const p = await spawnApp(lab, { logFile: join(lab.controlDir, 'app.log') });
  writeFileSync(pidFile(lab), String(p.pid));
}

export async function appDown(lab: Lab): Promise<void> {
  const pid = appPid(lab);
  if (pid) await stopPid(pid);
  rmSync(pidFile(lab), { force: true });
}
