/**
 * The lab's folder: its lab.json (read once and cached; create.ts writes a new one), secrets and
 * topology record, where each part keeps its files, and the node and pgpool lookups. `Lab` (lab.ts)
 * extends it with the operations; nothing else uses it directly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../../../functions/lib/topology';
import { LabError, type LabConfig, type LabNode, type LabPgpool, type Secrets } from './config';

export class LabFolder {
  /** lab.json as last read; Lab.up sets it when it creates the lab. */
  protected cfg?: LabConfig;

  constructor(readonly dir: string) {}

  get configFile(): string {
    return join(this.dir, 'lab.json');
  }

  exists(): boolean {
    return existsSync(this.configFile);
  }

  config(): LabConfig {
    if (this.cfg) return this.cfg;
    if (!this.exists()) throw new LabError(`no lab at ${this.dir} (run: pgwarden lab up)`);
    this.cfg = JSON.parse(readFileSync(this.configFile, 'utf8')) as LabConfig;
    return this.cfg;
  }

  /** The lab's private CA and the certificate every node and pgpool serves (127.0.0.1). */
  get tlsDir(): string {
    return join(this.dir, 'tls');
  }
  /** The CA file clients verify the servers with, when the lab runs with TLS. */
  get caFile(): string | undefined {
    return this.config().tls ? join(this.tlsDir, 'ca.crt') : undefined;
  }

  get secretsFile(): string {
    return join(this.dir, 'secrets.env');
  }

  secrets(): Secrets {
    const out: Secrets = {};
    for (const line of readFileSync(this.secretsFile, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  get topologyFile(): string {
    return join(this.dir, 'control', 'topology.json');
  }

  readTopology(): Topology {
    return JSON.parse(readFileSync(this.topologyFile, 'utf8')) as Topology;
  }

  /** Forget the cached lab.json: another process (the control plane) may have added or removed a node. */
  reloadConfig(): LabConfig {
    this.cfg = undefined;
    return this.config();
  }

  // ---------- paths ----------

  get scriptsDir(): string {
    return join(this.dir, 'node-scripts');
  }
  nodeDir(name: string): string {
    return join(this.dir, 'nodes', name);
  }
  dataDir(name: string): string {
    return join(this.nodeDir(name), 'data');
  }
  logDir(name: string): string {
    return join(this.nodeDir(name), 'log');
  }
  pgpoolDir(name: string): string {
    return join(this.dir, 'pgpools', name);
  }
  get redisDir(): string {
    return join(this.dir, 'redis');
  }
  get controlDir(): string {
    return join(this.dir, 'control');
  }

  node(name: string): LabNode {
    const n = this.config().nodes.find((x) => x.name === name);
    if (!n) {
      throw new LabError(
        `unknown node "${name}" (nodes: ${this.config()
          .nodes.map((x) => x.name)
          .join(', ')})`,
      );
    }
    return n;
  }

  pgpool(name: string): LabPgpool {
    const p = this.config().pgpools.find((x) => x.name === name);
    if (!p)
      throw new LabError(
        `unknown pgpool "${name}" (pgpools: ${this.config()
          .pgpools.map((x) => x.name)
          .join(', ')})`,
      );
    return p;
  }

  /** The instance a target name refers to: a database node or a pgpool. */
  targetEnvFile(target: string): string {
    const name = target.replace(/^lab:/, '');
    if (this.config().nodes.some((n) => n.name === name)) return join(this.nodeDir(name), 'node.env');
    if (this.config().pgpools.some((p) => p.name === name)) return join(this.pgpoolDir(name), 'pgpool.env');
    throw new LabError(`unknown node "${name}"`);
  }
}
