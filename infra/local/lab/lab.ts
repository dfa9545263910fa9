/**
 * The lab's handle: its folder, configuration and paths, and every operation the CLI, tests, benches,
 * drills and the control plane call. The work is done in the modules beside it (one a concern, each
 * taking the lab); docs/architecture.md lists them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from 'pg';
import type { Topology } from '../../../functions/lib/topology';
import { ensureSystemPackages } from '../doctor';
import { Partitions } from '../partition';
import type { RunResult } from '../proc';
import {
  defaultLabDir,
  LabError,
  type LabConfig,
  type LabNode,
  type LabOptions,
  type LabPgpool,
  type Secrets,
} from './config';
import * as connections from './connections';
import * as elastic from './elastic';
import { checkOptionsMatch, createLab } from './create';
import { bringDown, bringUp, waitReady } from './lifecycle';
import { runScript } from './node-scripts';
import * as nodes from './nodes';
import { labPids, nodeProcesses } from './processes';
import * as services from './services';
import { labStatus, type LabStatus } from './status';

export class Lab {
  readonly dir: string;
  private readonly opts: LabOptions;
  private cfg?: LabConfig;
  readonly log: (msg: string) => void;

  constructor(opts: LabOptions = {}) {
    this.opts = opts;
    this.dir = resolve(opts.dir ?? defaultLabDir());
    this.log = opts.log ?? ((m) => console.error(m));
  }

  // ---------- configuration (create.ts makes a new one) ----------

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

  // ---------- elastic standbys (elastic.ts) ----------

  /** Forget the cached lab.json: another process (the control plane) may have added or removed a node. */
  reloadConfig(): LabConfig {
    this.cfg = undefined;
    return this.config();
  }

  /**
   * Provision a new database node (elastic.ts): the next name, port and pgpool backend id, its env file;
   * nothing is started.
   */
  addNode(): LabNode {
    return elastic.addNode(this);
  }

  /** Deprovision a node that scale-in has stopped: its data is deleted (elastic.ts). */
  removeNode(name: string): void {
    elastic.removeNode(this, name);
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

  // ---------- lifecycle (lifecycle.ts) ----------

  /** Bring everything up; idempotent; returns when every component is ready. */
  async up(): Promise<void> {
    ensureSystemPackages(this.log);
    const fresh = !this.exists();
    if (fresh) this.cfg = createLab(this, this.opts);
    // A lab that was not brought down cleanly may have left its partition rules behind.
    if (fresh) this.partitions.reset();
    else checkOptionsMatch(this, this.opts);
    await bringUp(this, fresh);
  }

  waitReady(timeoutMs = 60_000): Promise<void> {
    return waitReady(this, timeoutMs);
  }

  down(opts: { purge?: boolean } = {}): Promise<void> {
    return bringDown(this, opts);
  }

  /** Every pid this lab owns (postmasters and their children, pgpool, redis, control plane). */
  labPids(): number[] {
    return labPids(this);
  }

  /** Network partitions between the lab's parts (lab partition / lab heal). */
  get partitions(): Partitions {
    return new Partitions(this);
  }

  /** Restart the control plane (as a redeploy or a crashed host of the AWS services would). */
  async restartControlPlane(): Promise<void> {
    await services.controlPlaneDown(this);
    await services.controlPlaneUp(this);
  }

  // ---------- node scripts (node-scripts.ts) ----------

  /** Run an infra/node script on a node or pgpool, as SSM would on EC2. */
  script(
    target: string,
    script: string,
    params: Record<string, string> = {},
    timeoutMs = 180_000,
    signal?: AbortSignal,
  ): Promise<RunResult> {
    return runScript(this, target, script, params, timeoutMs, signal);
  }

  // ---------- single-node operations (nodes.ts) ----------

  postmasterPid(name: string): number | undefined {
    return nodes.postmasterPid(this, name);
  }

  /** The postmaster says it accepts connections (postmaster.pid status line: ready, or standby). */
  postmasterReady(name: string): boolean {
    return nodes.postmasterReady(this, name);
  }

  /** A crash: SIGKILL of the node's postmaster. */
  kill(name: string): number {
    return nodes.kill(this, name);
  }

  /** A frozen host: SIGSTOP every process of the node. */
  freeze(name: string): number[] {
    return nodes.freeze(this, name);
  }

  thaw(name: string): number[] {
    return nodes.thaw(this, name);
  }

  nodeProcesses(name: string): number[] {
    return nodeProcesses(this, name);
  }

  stop(name: string): Promise<void> {
    return nodes.stop(this, name);
  }

  /**
   * The node's instance boots and start.sh starts PostgreSQL, except on a fenced data directory, which
   * start.sh refuses: then the instance is only reported running (the EC2 state-change event the
   * control plane would see), and the rejoin workflow brings the node back as a standby.
   */
  start(name: string): Promise<'started' | 'fenced'> {
    return nodes.start(this, name);
  }

  // ---------- redis and the control plane (services.ts) ----------

  redisPing(): Promise<boolean> {
    return services.redisPing(this);
  }

  /** A Redis outage (the app must degrade to the database): stop Redis and wait until it is gone. */
  redisStop(): Promise<void> {
    return services.redisStop(this);
  }

  /** Redis back after redisStop (same port, same password). */
  redisStart(): Promise<void> {
    return services.redisUp(this);
  }

  /** The control plane's URL with the lab's API token (infra/local/controlplane/guard.ts). */
  get apiUrl(): string {
    return services.apiUrl(this);
  }

  apiHealthy(): Promise<boolean> {
    return services.apiHealthy(this);
  }

  // ---------- connections (connections.ts) and status (status.ts) ----------

  /**
   * A node's address defaults to the automation role (pgwarden, database postgres); a pgpool's
   * (`pgpool` is the first) to the app's role and database, as a client's would: a pgpool holds no
   * automation or superuser password (its pool_passwd has pgpool and app only).
   */
  connectionString(target: string, user?: string, database?: string): string {
    return connections.connectionString(this, target, user, database);
  }

  client(target: string, opts: { user?: string; database?: string; timeoutMs?: number } = {}): Promise<Client> {
    return connections.client(this, target, opts);
  }

  query<T = Record<string, unknown>>(
    target: string,
    sql: string,
    params: unknown[] = [],
    timeoutMs = 3000,
    as: { user?: string; database?: string } = {},
  ): Promise<T[]> {
    return connections.query<T>(this, target, sql, params, timeoutMs, as);
  }

  status(): Promise<LabStatus> {
    return labStatus(this);
  }
}
