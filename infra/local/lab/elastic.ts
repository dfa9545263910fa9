/**
 * Elastic standbys (scale out / scale in, issue 4): the lab's stand-in for launching and terminating a
 * database instance. The scale-out and scale-in workflows do the PostgreSQL and pgpool work on it.
 */
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSync } from '../proc';
import { LabError, type LabConfig, type LabNode } from './config';
import { releaseSegmentOf } from './ipc';
import type { Lab } from './lab';
import { writeEnvFiles } from './node-scripts';

/**
 * Provision a new database node: the next name (pg4, ...), its own port from the port base, the
 * next pgpool backend id, its env file; every pgpool's env file lists it as a backend. Nothing is
 * started: the scale-out workflow makes it a standby and adds it to pgpool.
 */
export function addNode(lab: Lab): LabNode {
  const c = lab.reloadConfig();
  const id = Math.max(...c.nodes.map((n) => n.backendId)) + 1;
  if (id > 9)
    throw new LabError(`no port left for another node (ports ${c.portBase}..${c.portBase + 9} are for nodes)`);
  const num = Math.max(...c.nodes.map((n) => Number(/^pg(\d+)$/.exec(n.name)?.[1] ?? 0))) + 1;
  const node: LabNode = { name: `pg${num}`, port: c.portBase + id, backendId: id };
  saveConfig(lab, { ...c, nodes: [...c.nodes, node] });
  return node;
}

/**
 * Deprovision a node that scale-in has stopped: its data is deleted. It leaves lab.json only when it
 * is the last pgpool backend, so that the backend ids of the other nodes never shift.
 */
export function removeNode(lab: Lab, name: string): void {
  const c = lab.reloadConfig();
  const n = lab.node(name);
  if (lab.postmasterPid(name)) throw new LabError(`node ${name} is still running`);
  releaseSegmentOf(lab, name);
  rmSync(lab.nodeDir(name), { recursive: true, force: true });
  const last = Math.max(...c.nodes.map((x) => x.backendId));
  if (n.backendId === last) saveConfig(lab, { ...c, nodes: c.nodes.filter((x) => x.name !== name) });
}

/** lab.json rewritten (atomically), the lab's cached copy reloaded, every env file written again. */
function saveConfig(lab: Lab, next: LabConfig): void {
  writeFileSync(`${lab.configFile}.tmp`, JSON.stringify(next, null, 2));
  renameSync(`${lab.configFile}.tmp`, lab.configFile);
  lab.reloadConfig();
  writeEnvFiles(lab);
  const u = next.osUser;
  if (u) {
    for (const d of [
      ...next.nodes.map((x) => lab.nodeDir(x.name)),
      ...next.pgpools.map((p) => lab.pgpoolDir(p.name)),
    ]) {
      const r = runSync('chown', [
        u,
        d,
        ...readdirSync(d)
          .filter((f) => f.endsWith('.env'))
          .map((f) => join(d, f)),
      ]);
      if (r.code !== 0) throw new LabError(`chown ${u} ${d} failed: ${r.stderr}`);
    }
  }
}
