/**
 * The lab's handle: every operation the CLI, tests, benches, drills and the control plane call, on
 * top of its folder, configuration, paths and node lookup (LabFolder, folder.ts). The work is done in
 * the modules beside it (one a concern, each taking the lab); docs/architecture.md lists them.
 */
import { resolve } from 'node:path';
import type { Client } from 'pg';
import { ensureSystemPackages } from '../doctor';
import { Partitions } from '../partition';
import type { RunResult } from '../proc';
import { defaultLabDir, type LabNode, type LabOptions } from './config';
import * as connections from './connections';
import * as elastic from './elastic';
import { LabFolder } from './folder';
import { checkOptionsMatch, createLab } from './create';
import { bringDown, bringUp, waitReady } from './lifecycle';
import { runScript } from './node-scripts';
import * as nodes from './nodes';
import { labPids, nodeProcesses } from './processes';
import * as services from './services';
import { labStatus, type LabStatus } from './status';

export class Lab extends LabFolder {
  private readonly opts: LabOptions;
  readonly log: (msg: string) => void;

  constructor(opts: LabOptions = {}) {
    super(resolve(opts.dir ?? defaultLabDir()));
    this.opts = opts;
    this.log = opts.log ?? ((m) => console.error(m));
  }

  // configuration, paths, node and pgpool lookup: folder.ts (LabFolder)

  // ---------- elastic standbys (elastic.ts) ----------

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

  status(opts: { showSecrets?: boolean } = {}): Promise<LabStatus> {
    return labStatus(this, opts);
  }
}
