/** The whole lab up and down: what `pgwarden lab up` and `lab down` do once the lab's folder exists. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { appDown, appUp } from '../app-process';
import { ensureApiToken } from '../controlplane/guard';
import { waitFor } from '../proc';
import { LabError } from './config';
import { releaseSegmentOf } from './ipc';
import { ensurePrivateLabDir } from './create';
import type { Lab } from './lab';
import { chownTree, installScripts, scriptOk, writeEnvFiles } from './node-scripts';
import { cmdline, killQuietly } from './processes';
import { apiHealthy, controlPlaneDown, controlPlaneUp, redisDown, redisUp } from './services';

/**
 * Everything up on a lab that exists (Lab.up created it or checked its options): the folder, scripts
 * and env files, the nodes, Redis, the pgpools, the control plane and the app; returns when ready.
 */
export async function bringUp(lab: Lab, fresh: boolean): Promise<void> {
  const c = lab.config();
  ensurePrivateLabDir(lab.dir, c.osUser);
  ensureApiToken(lab.controlDir);
  installScripts(lab);
  writeEnvFiles(lab);
  chownTree(lab);

  const topo = lab.readTopology();
  const primary = topo.primary;
  const p = lab.node(primary);
  if (!existsSync(join(lab.dataDir(primary), 'PG_VERSION')))
    lab.log(`bootstrapping primary ${primary} on port ${p.port}`);
  await scriptOk(lab, primary, existsSync(join(lab.dataDir(primary), 'PG_VERSION')) ? 'start' : 'bootstrap-primary');
  const standbys = topo.nodes.filter((n) => n.name !== primary && n.role !== 'removed');
  await Promise.all(
    standbys.map(async (s) => {
      if (!existsSync(join(lab.dataDir(s.name), 'PG_VERSION'))) {
        lab.log(`bootstrapping standby ${s.name} on port ${s.port} (pg_basebackup)`);
        await scriptOk(lab, s.name, 'bootstrap-standby', { PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(p.port) });
      } else if (!existsSync(join(lab.dataDir(s.name), 'pgwarden.fenced'))) {
        await scriptOk(lab, s.name, 'start');
      }
    }),
  );
  // Quorum commit over the standbys, set once they stream (the primary blocks commits until then).
  const quorum = standbys.filter((s) => s.role === 'standby').map((s) => s.name);
  await scriptOk(lab, primary, 'promote', {
    SYNC_STANDBYS: topo.syncQuorum > 0 && quorum.length ? `ANY ${topo.syncQuorum} (${quorum.join(', ')})` : '',
    SLOTS: quorum.join(','),
  });
  await redisUp(lab);
  for (const pp of c.pgpools) {
    await scriptOk(lab, pp.name, 'configure-pgpool');
    await scriptOk(lab, pp.name, 'pgpool-start');
  }
  await controlPlaneUp(lab);
  await waitReady(lab);
  await appUp(lab);
  lab.log(`lab ${fresh ? 'created' : 'up'}: ${lab.dir}`);
}

/** Every standby streaming, every pgpool routing to the primary and the standbys, the control plane up. */
export async function waitReady(lab: Lab, timeoutMs = 60_000): Promise<void> {
  const attached = new Set<string>();
  await waitFor(
    'every standby streaming and every pgpool routing to the primary and the standbys',
    async () => {
      const s = await lab.status();
      const t = lab.readTopology();
      const expectStreaming = t.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
      const primary = s.nodes.find((n) => n.name === t.primary);
      if (!primary || primary.role !== 'primary') return false;
      if (!expectStreaming.every((n) => s.nodes.find((x) => x.name === n)?.streaming)) return false;
      let ready = true;
      for (const pp of s.pgpools) {
        if (!pp.up || !pp.nodes.some((x) => x.role === 'primary' && x.status === 'up')) ready = false;
        // A pgpool that detached a standby (e.g. a health check that timed out while the lab was
        // starting) gets it back once it streams: the same pcp_attach_node the rejoin workflow uses.
        for (const name of expectStreaming) {
          const view = pp.nodes.find((x) => x.name === name);
          if (view?.status !== 'down') continue;
          ready = false;
          if (!attached.has(`${pp.name}/${name}`)) {
            attached.add(`${pp.name}/${name}`);
            await lab.script(pp.name, 'pgpool-attach', { NODE_ID: String(lab.node(name).backendId) });
          }
        }
      }
      return ready;
    },
    timeoutMs,
    100,
  );
  await waitFor('control plane', () => apiHealthy(lab), 20_000, 100);
}

/** Everything the lab started stopped (app, control plane, pgpools, nodes, Redis); --purge deletes its state. */
export async function bringDown(lab: Lab, opts: { purge?: boolean } = {}): Promise<void> {
  if (!lab.exists()) {
    if (opts.purge) rmSync(lab.dir, { recursive: true, force: true });
    return;
  }
  const c = lab.config();
  await appDown(lab);
  await controlPlaneDown(lab);
  for (const pp of c.pgpools) {
    if (existsSync(join(lab.pgpoolDir(pp.name), 'pgpool.env'))) await lab.script(pp.name, 'pgpool-stop');
  }
  await Promise.all(
    c.nodes.map(async (n) => {
      if (!existsSync(join(lab.nodeDir(n.name), 'node.env'))) return;
      lab.thaw(n.name);
      const r = await lab.script(n.name, 'stop', { MODE: 'fast' });
      if (r.code !== 0) await lab.script(n.name, 'stop', { MODE: 'immediate' });
      // Orphaned backends of a SIGKILLed postmaster still have this node's data directory as cwd.
      for (const pid of lab.nodeProcesses(n.name)) killQuietly(pid);
    }),
  );
  redisDown(lab);
  await waitNothingRunning(lab);
  lab.partitions.reset({ cgroups: true });
  if (opts.purge) {
    // Deleting a killed node's data directory would leave its postmaster's segment in the kernel.
    for (const n of c.nodes) releaseSegmentOf(lab, n.name);
    rmSync(lab.dir, { recursive: true, force: true });
  }
}

async function waitNothingRunning(lab: Lab): Promise<void> {
  try {
    await waitFor('every lab process to exit', () => lab.labPids().length === 0, 30_000, 100);
  } catch {
    const left = lab.labPids().map((p) => `${p} (${cmdline(p)})`);
    throw new LabError(`these lab processes did not exit: ${left.join(', ')}`);
  }
}
