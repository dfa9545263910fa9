/** Single-node operations: a crash (SIGKILL), a frozen host (SIGSTOP / SIGCONT), a clean stop and start. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ec2Event } from '../controlplane/events';
import { isAlive, parseResult } from '../proc';
import { LabError } from './config';
import type { Lab } from './lab';
import { lastLines, scriptOk } from './node-scripts';
import { readPid } from './processes';
import { apiHealthy } from './services';

export function postmasterPid(lab: Lab, name: string): number | undefined {
  lab.node(name);
  const pid = readPid(join(lab.dataDir(name), 'postmaster.pid'));
  return pid && isAlive(pid) ? pid : undefined;
}

/** The postmaster says it accepts connections (postmaster.pid status line: ready, or standby). */
export function postmasterReady(lab: Lab, name: string): boolean {
  if (!lab.postmasterPid(name)) return false;
  try {
    const status = readFileSync(join(lab.dataDir(name), 'postmaster.pid'), 'utf8').split('\n')[7] ?? '';
    return /ready|standby/.test(status);
  } catch {
    return false;
  }
}

/** A crash: SIGKILL of the node's postmaster. */
export function kill(lab: Lab, name: string): number {
  const pid = lab.postmasterPid(name);
  if (!pid) throw new LabError(`node ${name} is not running`);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** A frozen host: SIGSTOP every process of the node. */
export function freeze(lab: Lab, name: string): number[] {
  lab.node(name);
  const postmaster = lab.postmasterPid(name);
  if (!postmaster) throw new LabError(`node ${name} is not running`);
  // The postmaster first, so that it forks no new backend; then its children, listed again after
  // it stopped. A backend may exit between the listing and the signal: that one is not frozen, it
  // is gone.
  process.kill(postmaster, 'SIGSTOP');
  const stopped = [postmaster];
  for (const p of lab.nodeProcesses(name)) {
    if (p === postmaster) continue;
    try {
      process.kill(p, 'SIGSTOP');
      stopped.push(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
  return stopped;
}

export function thaw(lab: Lab, name: string): number[] {
  const pids = lab.nodeProcesses(name);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGCONT');
    } catch {
      /* already gone */
    }
  }
  return pids;
}

/** A clean stop (fast shutdown) of the node's PostgreSQL. */
export async function stop(lab: Lab, name: string): Promise<void> {
  lab.node(name);
  await scriptOk(lab, name, 'stop', { MODE: 'fast' });
}

/**
 * The node's instance boots and start.sh starts PostgreSQL, except on a fenced data directory, which
 * start.sh refuses: then the instance is only reported running (the EC2 state-change event the
 * control plane would see), and the rejoin workflow brings the node back as a standby.
 */
export async function start(lab: Lab, name: string): Promise<'started' | 'fenced'> {
  lab.node(name);
  const r = await lab.script(name, 'start');
  if (r.code === 3 && parseResult(r.stdout).refused === 'fenced') {
    if (await apiHealthy(lab)) {
      await fetch(`${lab.apiUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ec2Event(`lab:${name}`, 'running')),
      });
    }
    return 'fenced';
  }
  if (r.code !== 0) {
    throw new LabError(`start on ${name} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout, 6)}`);
  }
  return 'started';
}
