/**
 * The lab: a real PostgreSQL 15 cluster (primary + streaming standbys), pgpool-II and Redis on
 * loopback, built with the very infra/node scripts that SSM runs on EC2, plus the control plane that
 * stands in for the AWS services. All state lives in one git-ignored folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { syncDegraded, type Topology } from '../../../functions/lib/topology';
import { appDown, appPid, appUp } from '../app-process';
import { AWS_PGPOOL_HEALTH_CHECK, AWS_SIM_LATENCIES } from '../aws-sim';
import { ensureSystemPackages, PGBIN } from '../doctor';
import { Partitions } from '../partition';
import { pgpoolBinDir } from '../pgpool-build';
import { ec2Event } from '../controlplane/events';
import { ensureApiToken, readApiToken } from '../controlplane/guard';
import { ensurePrivateDir, uidOf } from '../private-dir';
import { isAlive, parseResult, run, runSync, waitFor, type RunResult } from '../proc';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
const NODE_SCRIPTS_SRC = join(REPO_ROOT, 'infra', 'node');
export const DEFAULT_PORT_BASE = 25432;
const STANDARD_PORTS = [5432, 6379, 9999, 8080, 9898];
const ROOT_LAB_PARENT = '/var/lib/pgwarden';

/** Lab timings, shorter than AWS's (printed beside every figure). */
export interface LabProfile {
  name: string;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  alarmPeriodS: number;
  healthCheckPeriodS: number;
  healthCheckTimeoutS: number;
  /** One retry: a single slow answer under load does not detach a healthy node. */
  healthCheckRetries: number;
  pgpoolConnectTimeoutMs: number;
  /** How often the prober checks for a streaming standby a pgpool detached (heal). */
  healIntervalMs?: number;
  /** How often the control plane runs the custom SQL metrics (0: never); default 5000. */
  metricsIntervalMs?: number;
}

export const LAB_PROFILE: LabProfile = {
  name: 'lab',
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  alarmPeriodS: 1,
  healthCheckPeriodS: 1,
  healthCheckTimeoutS: 1,
  healthCheckRetries: 1,
  pgpoolConnectTimeoutMs: 1000,
  healIntervalMs: 2000,
};

/**
 * AWS's timings in the lab (`lab up --profile aws-sim`): the prober, alarm and pgpool health check as
 * configured in AWS, and the adapters add the latencies of the services they stand in for
 * (infra/local/aws-sim.ts, one table with its sources).
 */
export const AWS_SIM_PROFILE: LabProfile = {
  name: 'aws-sim',
  probeIntervalMs: AWS_SIM_LATENCIES.probeInterval.ms,
  probeTimeoutMs: 2000, // functions/lib/settings.ts's default
  alarmPeriodS: AWS_SIM_LATENCIES.alarmPeriod.ms / 1000,
  healthCheckPeriodS: AWS_PGPOOL_HEALTH_CHECK.periodS,
  healthCheckTimeoutS: AWS_PGPOOL_HEALTH_CHECK.timeoutS,
  healthCheckRetries: AWS_PGPOOL_HEALTH_CHECK.retries,
  pgpoolConnectTimeoutMs: AWS_PGPOOL_HEALTH_CHECK.connectTimeoutMs,
  healIntervalMs: 10_000,
};

export const PROFILES: Record<string, LabProfile> = { lab: LAB_PROFILE, 'aws-sim': AWS_SIM_PROFILE };

export function profileByName(name: string | undefined): LabProfile {
  const p = PROFILES[name ?? 'lab'];
  if (!p) throw new LabError(`unknown lab profile "${name}" (one of: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}

export interface LabNode {
  name: string;
  port: number;
  backendId: number;
}

export interface LabPgpool {
  name: string;
  port: number;
  pcpPort: number;
}

export interface LabConfig {
  cluster: string;
  dir: string;
  portBase: number;
  osUser: string | null;
  pgbin: string;
  nodes: LabNode[];
  pgpools: LabPgpool[];
  redisPort: number;
  apiPort: number;
  xrayPort: number;
  appPort: number;
  profile: LabProfile;
  /** Extra settings for every pgpool's env file (e.g. the bench's native-failover baseline). */
  pgpoolEnv?: Record<string, string>;
  /** TLS on every TCP connection to PostgreSQL and pgpool, verified against the lab's own CA. */
  tls?: boolean;
  createdAt: string;
}

export interface LabOptions {
  dir?: string;
  portBase?: number;
  standbys?: number;
  pgpools?: number;
  pgpoolEnv?: Record<string, string>;
  /** TLS everywhere (LabConfig.tls): the default; PGWARDEN_LAB_TLS=0 turns it off. Fixed when the lab is created. */
  tls?: boolean;
  log?: (msg: string) => void;
  /** Timings profile: 'lab' (default) or 'aws-sim'. */
  profile?: string;
}

export type Secrets = Record<string, string>;

export class LabError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'LabError';
  }
}

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

export function defaultLabDir(): string {
  if (process.env.PGWARDEN_LAB_DIR) return resolve(process.env.PGWARDEN_LAB_DIR);
  // As root, the nodes run as the postgres OS user, which must reach the lab's folder: a clone under
  // a private home directory gets its lab under /var/lib/pgwarden (root's, not a world-writable
  // folder where another user could have created it first) instead of ./.lab.
  if (process.getuid?.() === 0 && runSync('runuser', ['-u', 'postgres', '--', 'test', '-x', REPO_ROOT]).code !== 0) {
    return join(ROOT_LAB_PARENT, `lab-${createHash('sha1').update(REPO_ROOT).digest('hex').slice(0, 8)}`);
  }
  return join(REPO_ROOT, '.lab');
}

function portsFor(base: number, standbys: number, pgpools: number) {
  const nodes: LabNode[] = Array.from({ length: standbys + 1 }, (_, i) => ({
    name: `pg${i + 1}`,
    port: base + i,
    backendId: i,
  }));
  const pools: LabPgpool[] = Array.from({ length: pgpools }, (_, k) => ({
    name: `pgpool${k + 1}`,
    port: base + 10 + 2 * k,
    pcpPort: base + 11 + 2 * k,
  }));
  return { nodes, pools, redisPort: base + 20, apiPort: base + 21, xrayPort: base + 22, appPort: base + 23 };
}

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

  // ---------- configuration ----------

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

  private create(): LabConfig {
    const base = this.opts.portBase ?? Number(process.env.PGWARDEN_PORT_BASE ?? DEFAULT_PORT_BASE);
    if (!Number.isInteger(base) || base < 1024 || base > 65000) throw new LabError(`invalid port base ${base}`);
    const standbys = this.opts.standbys ?? 2;
    const pgpools = this.opts.pgpools ?? Number(process.env.PGWARDEN_PGPOOLS ?? 1);
    if (standbys < 1 || standbys > 6) throw new LabError(`standbys must be 1..6, got ${standbys}`);
    if (pgpools < 1 || pgpools > 4) throw new LabError(`pgpools must be 1..4, got ${pgpools}`);
    const p = portsFor(base, standbys, pgpools);
    const all = [...p.nodes.map((n) => n.port), ...p.pools.flatMap((x) => [x.port, x.pcpPort]), p.redisPort, p.apiPort];
    const clash = all.filter((x) => STANDARD_PORTS.includes(x));
    if (clash.length) throw new LabError(`port base ${base} puts lab services on standard ports ${clash.join(', ')}`);
    const isRoot = process.getuid?.() === 0;
    const cfg: LabConfig = {
      cluster: 'lab',
      dir: this.dir,
      portBase: base,
      osUser: isRoot ? 'postgres' : null,
      pgbin: PGBIN,
      nodes: p.nodes,
      pgpools: p.pools,
      redisPort: p.redisPort,
      apiPort: p.apiPort,
      xrayPort: p.xrayPort,
      appPort: p.appPort,
      profile: profileByName(this.opts.profile),
      pgpoolEnv: this.opts.pgpoolEnv,
      tls: this.opts.tls ?? process.env.PGWARDEN_LAB_TLS !== '0',
      createdAt: new Date().toISOString(),
    };
    this.ensurePrivateLabDir(cfg.osUser);
    mkdirSync(join(this.dir, 'control'), { recursive: true, mode: 0o700 });
    writeFileSync(this.configFile, JSON.stringify(cfg, null, 2));
    const secrets: Secrets = {};
    for (const k of ['POSTGRES', 'REPLICATOR', 'PGWARDEN', 'PGPOOL', 'APP', 'PCP', 'REDIS']) {
      secrets[`PGW_PW_${k}`] = randomBytes(12).toString('hex');
    }
    writeFileSync(
      this.secretsFile,
      Object.entries(secrets)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
      { mode: 0o600 },
    );
    writeFileSync(
      join(this.dir, 'pgpass'),
      `*:*:*:replicator:${secrets.PGW_PW_REPLICATOR}\n*:*:*:pgwarden:${secrets.PGW_PW_PGWARDEN}\n`,
      { mode: 0o600 },
    );
    if (cfg.tls) makeCertificates(this.tlsDir);
    this.cfg = cfg;
    this.writeInitialTopology();
    return cfg;
  }

  /** The lab folder is ours (or the database OS user's, after chownTree) and nobody else can write in it. */
  private ensurePrivateLabDir(osUser: string | null): void {
    const owners = [process.getuid?.() ?? 0];
    const db = osUser ? uidOf(osUser) : undefined;
    if (db !== undefined) owners.push(db);
    if (this.dir.startsWith(`${ROOT_LAB_PARENT}/`)) ensurePrivateDir(ROOT_LAB_PARENT, [0], 0o755);
    ensurePrivateDir(this.dir, owners);
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

  private writeInitialTopology(): void {
    const c = this.config();
    const t: Topology = {
      cluster: c.cluster,
      version: 1,
      primary: c.nodes[0].name,
      timeline: 1,
      paused: false,
      syncQuorum: 1,
      nodes: c.nodes.map((n, i) => ({
        name: n.name,
        host: '127.0.0.1',
        port: n.port,
        backendId: n.backendId,
        role: i === 0 ? 'primary' : 'standby',
        instanceId: `lab:${n.name}`,
      })),
      pgpools: c.pgpools.map((p) => ({
        name: p.name,
        host: '127.0.0.1',
        port: p.port,
        pcpPort: p.pcpPort,
        instanceId: `lab:${p.name}`,
      })),
      history: [{ at: new Date().toISOString(), kind: 'cluster-created', detail: { primary: c.nodes[0].name } }],
    };
    writeFileSync(this.topologyFile, JSON.stringify(t, null, 2));
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

  // ---------- env files (what EC2 user data writes to /etc/pgwarden/*.env) ----------

  private writeEnvFiles(): void {
    const c = this.config();
    const common = {
      PGW_CLUSTER: c.cluster,
      PGW_PGBIN: c.pgbin,
      PGW_OS_USER: c.osUser ?? '',
      PGW_HOST: '127.0.0.1',
      PGW_HBA_CIDR: '127.0.0.1/32',
      PGW_SECRETS_ENV: this.secretsFile,
      PGW_PGPASS: join(this.dir, 'pgpass'),
      PGW_NODE_SCRIPTS: this.scriptsDir,
      ...(c.tls
        ? {
            PGW_SSL_CERT: join(this.tlsDir, 'server.crt'),
            PGW_SSL_KEY: join(this.tlsDir, 'server.key'),
            PGW_SSL_CA: join(this.tlsDir, 'ca.crt'),
          }
        : {}),
    };
    for (const n of c.nodes) {
      const d = this.nodeDir(n.name);
      mkdirSync(d, { recursive: true });
      writeEnv(join(d, 'node.env'), {
        ...common,
        PGW_NODE: n.name,
        PGW_PORT: String(n.port),
        PGW_PGDATA: this.dataDir(n.name),
        PGW_LOG_DIR: this.logDir(n.name),
        PGW_SOCKET_DIR: join(d, 'run'),
      });
    }
    for (const p of c.pgpools) {
      const d = this.pgpoolDir(p.name);
      mkdirSync(d, { recursive: true });
      writeEnv(join(d, 'pgpool.env'), {
        ...common,
        PGW_NODE: p.name,
        PGW_PGPOOL_DIR: d,
        PGW_PGPOOL_PORT: String(p.port),
        PGW_PCP_PORT: String(p.pcpPort),
        // As in AWS (configure-pgpool.sh's default). With 16, clients reconnecting during a failover
        // ran out of children on pgpool-II 4.3 (a switchover's write window grew by a second).
        PGW_PGPOOL_CHILDREN: '32',
        PGW_BACKENDS: c.nodes.map((n) => `${n.name}=127.0.0.1:${n.port}`).join(' '),
        PGW_HEALTH_CHECK_PERIOD: String(c.profile.healthCheckPeriodS),
        PGW_HEALTH_CHECK_TIMEOUT: String(c.profile.healthCheckTimeoutS),
        PGW_HEALTH_CHECK_RETRIES: String(c.profile.healthCheckRetries ?? 1),
        PGW_CONNECT_TIMEOUT_MS: String(c.profile.pgpoolConnectTimeoutMs),
        // pgpool's log level (e.g. "log" to see its failover processing); warnings by default.
        ...(process.env.PGWARDEN_PGPOOL_LOG_LEVEL
          ? { PGW_PGPOOL_LOG_LEVEL: process.env.PGWARDEN_PGPOOL_LOG_LEVEL }
          : {}),
        PGW_PGPOOL_BIN: pgpoolBinDir(),
        // As in AWS (infra/aws/userdata/pgpool.sh): the hook returns once the workflow has started and
        // pgpool keeps searching for the promoted primary.
        ...(c.profile.name === 'aws-sim' ? { PGW_SEARCH_PRIMARY_TIMEOUT: '0' } : {}),
        ...c.pgpoolEnv,
        PGW_TRIGGER_CMD:
          c.pgpoolEnv?.PGW_TRIGGER_CMD ??
          // The URL (it holds the API token) comes from a file, not the command line that ps shows.
          `curl -sS -m 30 -X POST -H 'content-type: application/json' --data-binary @- -K '${this.hookCurlConfig()}'`,
      });
    }
  }

  /** curl's config for pgpool's failover hook: the API URL with the token, mode 0600. */
  private hookCurlConfig(): string {
    const file = join(this.controlDir, 'pgpool-hook.curl');
    // The lab's hook waits for the promotion (pgpool then finds the new primary at once); with the
    // aws-sim profile it returns at once, as the pgpool-hook Lambda does in AWS.
    const wait = this.config().profile.name === 'aws-sim' ? '' : '?wait=1';
    writeFileSync(file, `url = "${this.apiUrl}/v1/triggers/pgpool${wait}"\n`, { mode: 0o600 });
    return file;
  }

  /** Install the node scripts where the database OS user can read them (EC2: /opt/pgwarden/node). */
  private installScripts(): void {
    rmSync(this.scriptsDir, { recursive: true, force: true });
    cpSync(NODE_SCRIPTS_SRC, this.scriptsDir, { recursive: true });
  }

  private chownTree(): void {
    const u = this.config().osUser;
    if (!u) return;
    const r = runSync('chown', ['-R', u, this.dir]);
    if (r.code !== 0) throw new LabError(`chown ${u} ${this.dir} failed: ${r.stderr}`);
    // Secrets stay private to the database OS user.
    for (const f of [this.secretsFile, join(this.dir, 'pgpass')]) chmodSync(f, 0o600);
    this.checkAccess();
  }

  private checkAccess(): void {
    const u = this.config().osUser;
    if (!u) return;
    const r = runSync('runuser', ['-u', u, '--', 'test', '-r', join(this.scriptsDir, 'lib.sh')]);
    if (r.code !== 0) {
      throw new LabError(
        `the ${u} OS user cannot reach ${this.dir}: choose a lab folder it can traverse, e.g. PGWARDEN_LAB_DIR=/var/lib/pgwarden/lab`,
      );
    }
  }

  // ---------- node scripts ----------

  /** Run an infra/node script on a node or pgpool, as SSM would on EC2. */
  async script(
    target: string,
    script: string,
    params: Record<string, string> = {},
    timeoutMs = 180_000,
    signal?: AbortSignal,
  ): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      PGW_NODE_ENV: this.targetEnvFile(target),
    };
    for (const [k, v] of Object.entries(params)) env[`PGW_PARAM_${k}`] = v;
    // Run "on" the target: in its cgroup, where what it starts (postmaster, pgpool) stays (partitions).
    const [cmd, args] = this.partitions.wrap(target.replace(/^lab:/, ''), 'bash', [
      join(this.scriptsDir, `${script}.sh`),
    ]);
    return run(cmd, args, { env, timeoutMs, signal });
  }

  private async scriptOk(
    target: string,
    script: string,
    params: Record<string, string> = {},
  ): Promise<Record<string, string>> {
    const r = await this.script(target, script, params);
    if (r.code !== 0) {
      throw new LabError(`${script} on ${target} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout, 6)}`);
    }
    return parseResult(r.stdout);
  }

  // ---------- lifecycle ----------

  /** Bring everything up; idempotent; returns when every component is ready. */
  async up(): Promise<void> {
    ensureSystemPackages(this.log);
    const fresh = !this.exists();
    if (fresh) this.create();
    // A lab that was not brought down cleanly may have left its partition rules behind.
    if (fresh) this.partitions.reset();
    else this.checkOptionsMatch();
    const c = this.config();
    this.ensurePrivateLabDir(c.osUser);
    ensureApiToken(this.controlDir);
    this.installScripts();
    this.writeEnvFiles();
    this.chownTree();

    const topo = this.readTopology();
    const primary = topo.primary;
    const p = this.node(primary);
    if (!existsSync(join(this.dataDir(primary), 'PG_VERSION')))
      this.log(`bootstrapping primary ${primary} on port ${p.port}`);
    await this.scriptOk(primary, existsSync(join(this.dataDir(primary), 'PG_VERSION')) ? 'start' : 'bootstrap-primary');
    const standbys = topo.nodes.filter((n) => n.name !== primary && n.role !== 'removed');
    await Promise.all(
      standbys.map(async (s) => {
        if (!existsSync(join(this.dataDir(s.name), 'PG_VERSION'))) {
          this.log(`bootstrapping standby ${s.name} on port ${s.port} (pg_basebackup)`);
          await this.scriptOk(s.name, 'bootstrap-standby', { PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(p.port) });
        } else if (!existsSync(join(this.dataDir(s.name), 'pgwarden.fenced'))) {
          await this.scriptOk(s.name, 'start');
        }
      }),
    );
    // Quorum commit over the standbys, set once they stream (the primary blocks commits until then).
    const quorum = standbys.filter((s) => s.role === 'standby').map((s) => s.name);
    await this.scriptOk(primary, 'promote', {
      SYNC_STANDBYS: topo.syncQuorum > 0 && quorum.length ? `ANY ${topo.syncQuorum} (${quorum.join(', ')})` : '',
      SLOTS: quorum.join(','),
    });
    await this.redisUp();
    for (const pp of c.pgpools) {
      await this.scriptOk(pp.name, 'configure-pgpool');
      await this.scriptOk(pp.name, 'pgpool-start');
    }
    await this.controlPlaneUp();
    await this.waitReady();
    await appUp(this);
    this.log(`lab ${fresh ? 'created' : 'up'}: ${this.dir}`);
  }

  private checkOptionsMatch(): void {
    const c = this.config();
    if (this.opts.portBase !== undefined && this.opts.portBase !== c.portBase) {
      throw new LabError(
        `the lab at ${this.dir} uses port base ${c.portBase}; run "pgwarden lab down --purge" first to change it`,
      );
    }
    if (this.opts.profile !== undefined && profileByName(this.opts.profile).name !== c.profile.name) {
      throw new LabError(
        `the lab at ${this.dir} runs profile ${c.profile.name}; run "pgwarden lab down --purge" first to change it`,
      );
    }
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const attached = new Set<string>();
    await waitFor(
      'every standby streaming and every pgpool routing to the primary and the standbys',
      async () => {
        const s = await this.status();
        const t = this.readTopology();
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
              await this.script(pp.name, 'pgpool-attach', { NODE_ID: String(this.node(name).backendId) });
            }
          }
        }
        return ready;
      },
      timeoutMs,
      100,
    );
    await waitFor('control plane', () => this.apiHealthy(), 20_000, 100);
  }

  async down(opts: { purge?: boolean } = {}): Promise<void> {
    if (!this.exists()) {
      if (opts.purge) rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    const c = this.config();
    await appDown(this);
    await this.controlPlaneDown();
    for (const pp of c.pgpools) {
      if (existsSync(join(this.pgpoolDir(pp.name), 'pgpool.env'))) await this.script(pp.name, 'pgpool-stop');
    }
    await Promise.all(
      c.nodes.map(async (n) => {
        if (!existsSync(join(this.nodeDir(n.name), 'node.env'))) return;
        this.thaw(n.name);
        const r = await this.script(n.name, 'stop', { MODE: 'fast' });
        if (r.code !== 0) await this.script(n.name, 'stop', { MODE: 'immediate' });
        // Orphaned backends of a SIGKILLed postmaster still have this node's data directory as cwd.
        for (const pid of this.nodeProcesses(n.name)) killQuietly(pid);
      }),
    );
    this.redisDown();
    await this.waitNothingRunning();
    this.partitions.reset({ cgroups: true });
    if (opts.purge) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every pid this lab owns (postmasters and their children, pgpool, redis, control plane). */
  labPids(): number[] {
    const c = this.config();
    const pids: number[] = [];
    const dirs = new Set(c.nodes.map((n) => realpath(this.dataDir(n.name))));
    for (const e of listProc()) {
      if (dirs.has(e.cwd)) pids.push(e.pid);
    }
    for (const f of [
      ...c.pgpools.map((p) => join(this.pgpoolDir(p.name), 'run', 'pgpool.pid')),
      join(this.redisDir, 'redis.pid'),
      join(this.controlDir, 'controlplane.pid'),
    ]) {
      const pid = readPid(f);
      if (pid && isAlive(pid)) pids.push(pid);
    }
    const app = appPid(this);
    if (app) pids.push(app);
    // pgpool children share the parent's process group.
    for (const p of c.pgpools) {
      const pid = readPid(join(this.pgpoolDir(p.name), 'run', 'pgpool.pid'));
      if (pid) for (const e of listProc()) if (e.ppid === pid) pids.push(e.pid);
    }
    return [...new Set(pids)];
  }

  private async waitNothingRunning(): Promise<void> {
    try {
      await waitFor('every lab process to exit', () => this.labPids().length === 0, 30_000, 100);
    } catch {
      const left = this.labPids().map((p) => `${p} (${cmdline(p)})`);
      throw new LabError(`these lab processes did not exit: ${left.join(', ')}`);
    }
  }

  /** Network partitions between the lab's parts (lab partition / lab heal). */
  get partitions(): Partitions {
    return new Partitions(this);
  }

  /** Restart the control plane (as a redeploy or a crashed host of the AWS services would). */
  async restartControlPlane(): Promise<void> {
    await this.controlPlaneDown();
    await this.controlPlaneUp();
  }

  // ---------- single-node operations ----------

  postmasterPid(name: string): number | undefined {
    this.node(name);
    const pid = readPid(join(this.dataDir(name), 'postmaster.pid'));
    return pid && isAlive(pid) ? pid : undefined;
  }

  /** The postmaster says it accepts connections (postmaster.pid status line: ready, or standby). */
  postmasterReady(name: string): boolean {
    if (!this.postmasterPid(name)) return false;
    try {
      const status = readFileSync(join(this.dataDir(name), 'postmaster.pid'), 'utf8').split('\n')[7] ?? '';
      return /ready|standby/.test(status);
    } catch {
      return false;
    }
  }

  /** A crash: SIGKILL of the node's postmaster. */
  kill(name: string): number {
    const pid = this.postmasterPid(name);
    if (!pid) throw new LabError(`node ${name} is not running`);
    process.kill(pid, 'SIGKILL');
    return pid;
  }

  /** A frozen host: SIGSTOP every process of the node. */
  freeze(name: string): number[] {
    this.node(name);
    const postmaster = this.postmasterPid(name);
    if (!postmaster) throw new LabError(`node ${name} is not running`);
    // The postmaster first, so that it forks no new backend; then its children, listed again after
    // it stopped. A backend may exit between the listing and the signal: that one is not frozen, it
    // is gone.
    process.kill(postmaster, 'SIGSTOP');
    const stopped = [postmaster];
    for (const p of this.nodeProcesses(name)) {
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

  thaw(name: string): number[] {
    const pids = this.nodeProcesses(name);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        /* already gone */
      }
    }
    return pids;
  }

  nodeProcesses(name: string): number[] {
    const d = realpath(this.dataDir(name));
    return listProc()
      .filter((e) => e.cwd === d)
      .map((e) => e.pid);
  }

  async stop(name: string): Promise<void> {
    this.node(name);
    await this.scriptOk(name, 'stop', { MODE: 'fast' });
  }

  /**
   * The node's instance boots and start.sh starts PostgreSQL, except on a fenced data directory, which
   * start.sh refuses: then the instance is only reported running (the EC2 state-change event the
   * control plane would see), and the rejoin workflow brings the node back as a standby.
   */
  async start(name: string): Promise<'started' | 'fenced'> {
    this.node(name);
    const r = await this.script(name, 'start');
    if (r.code === 3 && parseResult(r.stdout).refused === 'fenced') {
      if (await this.apiHealthy()) {
        await fetch(`${this.apiUrl}/v1/events`, {
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

  // ---------- redis ----------

  private async redisUp(): Promise<void> {
    const c = this.config();
    mkdirSync(this.redisDir, { recursive: true });
    const pidFile = join(this.redisDir, 'redis.pid');
    const pid = readPid(pidFile);
    if (pid && isAlive(pid)) return;
    writeFileSync(
      join(this.redisDir, 'redis.conf'),
      [
        `bind 127.0.0.1`,
        `port ${c.redisPort}`,
        `protected-mode yes`,
        `daemonize yes`,
        `pidfile ${pidFile}`,
        `logfile ${join(this.redisDir, 'redis.log')}`,
        `dir ${this.redisDir}`,
        `requirepass ${this.secrets().PGW_PW_REDIS}`,
        `save ""`,
        `appendonly no`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const r = await run('redis-server', [join(this.redisDir, 'redis.conf')], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new LabError(`redis-server failed: ${r.stderr || r.stdout}`);
    await waitFor('redis', () => this.redisPing(), 10_000);
  }

  async redisPing(): Promise<boolean> {
    const c = this.config();
    const call = redisCli(c.redisPort, this.secrets().PGW_PW_REDIS, ['PING']);
    const r = await run('redis-cli', call.args, { timeoutMs: 3000, env: call.env }).catch(() => undefined);
    return !!r && r.stdout.trim() === 'PONG';
  }

  private redisDown(): void {
    const pid = readPid(join(this.redisDir, 'redis.pid'));
    if (pid && isAlive(pid)) process.kill(pid, 'SIGTERM');
  }

  /** A Redis outage (the app must degrade to the database): stop Redis and wait until it is gone. */
  async redisStop(): Promise<void> {
    const pid = readPid(join(this.redisDir, 'redis.pid'));
    this.redisDown();
    if (pid) await waitFor('redis to exit', () => !isAlive(pid), 10_000);
  }

  /** Redis back after redisStop (same port, same password). */
  async redisStart(): Promise<void> {
    await this.redisUp();
  }

  // ---------- control plane ----------

  /** The control plane's URL with the lab's API token (infra/local/controlplane/guard.ts). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.config().apiPort}/${readApiToken(this.controlDir)}`;
  }

  async apiHealthy(): Promise<boolean> {
    try {
      const r = await fetch(`${this.apiUrl}/v1/health`, { signal: AbortSignal.timeout(1000) });
      if (!r.ok) return false;
      const body = (await r.json()) as { dir?: string };
      return body.dir === this.dir;
    } catch {
      return false;
    }
  }

  private async controlPlaneUp(): Promise<void> {
    if (await this.apiHealthy()) return;
    const pidFile = join(this.controlDir, 'controlplane.pid');
    const old = readPid(pidFile);
    if (old && isAlive(old)) process.kill(old, 'SIGTERM');
    const out = openSync(join(this.controlDir, 'controlplane.log'), 'a');
    const [cmd, args] = this.partitions.wrap('control', process.execPath, [
      '--import',
      'tsx',
      join(REPO_ROOT, 'infra', 'local', 'controlplane', 'main.ts'),
      this.dir,
    ]);
    const child = spawn(cmd, args, {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        PGWARDEN_LAB_DIR: this.dir,
      },
    });
    child.unref();
    writeFileSync(pidFile, String(child.pid));
    await waitFor('the control plane API', () => this.apiHealthy(), 30_000, 100);
  }

  private async controlPlaneDown(): Promise<void> {
    const pidFile = join(this.controlDir, 'controlplane.pid');
    const pid = readPid(pidFile);
    if (!pid || !isAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    await waitFor('the control plane to exit', () => !isAlive(pid), 10_000).catch(() => process.kill(pid, 'SIGKILL'));
  }

  // ---------- connections ----------

  /**
   * A node's address defaults to the automation role (pgwarden, database postgres); a pgpool's
   * (`pgpool` is the first) to the app's role and database, as a client's would: a pgpool holds no
   * automation or superuser password (its pool_passwd has pgpool and app only).
   */
  connectionString(target: string, user?: string, database?: string): string {
    const c = this.config();
    const s = this.secrets();
    const pool = target === 'pgpool' ? c.pgpools[0] : c.pgpools.find((p) => p.name === target);
    user ??= pool ? 'app' : 'pgwarden';
    database ??= pool ? 'app' : 'postgres';
    const pw = s[`PGW_PW_${user.toUpperCase()}`];
    const port = pool ? pool.port : this.node(target).port;
    return `postgresql://${user}:${pw}@127.0.0.1:${port}/${database}${this.sslQuery()}`;
  }

  /** `?sslmode=verify-full&sslrootcert=<ca>` when the lab runs with TLS (libpq and node-postgres read it). */
  private sslQuery(): string {
    const ca = this.caFile;
    return ca ? `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}` : '';
  }

  async client(target: string, opts: { user?: string; database?: string; timeoutMs?: number } = {}): Promise<Client> {
    const c = new Client({
      connectionString: this.connectionString(target, opts.user, opts.database),
      connectionTimeoutMillis: opts.timeoutMs ?? 3000,
      application_name: 'pgwarden-lab',
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  async query<T = Record<string, unknown>>(
    target: string,
    sql: string,
    params: unknown[] = [],
    timeoutMs = 3000,
    as: { user?: string; database?: string } = {},
  ): Promise<T[]> {
    const c = await this.client(target, { timeoutMs, ...as });
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  // ---------- status ----------

  async status(): Promise<LabStatus> {
    const c = this.config();
    const topo = this.readTopology();
    const nodes = await Promise.all(c.nodes.map((n) => this.nodeStatus(n, topo)));
    const primary = nodes.find((n) => n.role === 'primary');
    if (primary) {
      const rep = await this.query<{
        application_name: string;
        state: string;
        sync_state: string;
        lag_bytes: string;
        replay_lag_ms: number | null;
      }>(
        primary.name,
        `select application_name, state, sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint as lag_bytes,
                (extract(epoch from replay_lag) * 1000)::float8 as replay_lag_ms
           from pg_stat_replication`,
      ).catch(() => []);
      for (const r of rep) {
        const n = nodes.find((x) => x.name === r.application_name);
        if (!n) continue;
        n.lagBytes = Number(r.lag_bytes);
        n.replayLagMs = r.replay_lag_ms ?? 0;
        n.syncState = r.sync_state;
      }
    }
    const pgpools = await Promise.all(c.pgpools.map((p) => this.pgpoolStatus(p)));
    const s = this.secrets();
    return {
      cluster: c.cluster,
      dir: this.dir,
      profile: c.profile.name,
      automation: topo.paused ? `paused${topo.pausedReason ? ` (${topo.pausedReason})` : ''}` : 'active',
      topologyPrimary: topo.primary,
      timeline: topo.timeline,
      synchronous: synchronousLine(topo),
      nodes,
      pgpools,
      endpoint: `postgresql://app:${s.PGW_PW_APP}@127.0.0.1:${c.pgpools[0].port}/app${this.sslQuery()}`,
      services: {
        redis: `redis://:${s.PGW_PW_REDIS}@127.0.0.1:${c.redisPort}`,
        // Without the token: the status is printed and logged.
        controlPlane: `http://127.0.0.1:${c.apiPort}`,
        xray: `udp://127.0.0.1:${c.xrayPort}`,
        app: `http://127.0.0.1:${c.appPort}`,
      },
      redisUp: await this.redisPing(),
      controlPlaneUp: await this.apiHealthy(),
    };
  }

  private async nodeStatus(n: LabNode, topo: Topology): Promise<NodeStatus> {
    const s: NodeStatus = {
      name: n.name,
      port: n.port,
      up: false,
      role: 'down',
      fenced: existsSync(join(this.dataDir(n.name), 'pgwarden.fenced')),
      expectedRole: topo.nodes.find((x) => x.name === n.name)?.role ?? 'standby',
      streaming: false,
      connection: `postgresql://pgwarden:***@127.0.0.1:${n.port}/postgres`,
    };
    if (!this.postmasterPid(n.name)) return s;
    try {
      const [r] = await this.query<{
        in_recovery: boolean;
        current_lsn: string | null;
        receive_lsn: string | null;
        replay_lsn: string | null;
        tli: number | null;
        wr_status: string | null;
        sender: string | null;
      }>(
        n.name,
        `select pg_is_in_recovery() as in_recovery,
                case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as current_lsn,
                pg_last_wal_receive_lsn()::text as receive_lsn, pg_last_wal_replay_lsn()::text as replay_lsn,
                coalesce((select received_tli from pg_stat_wal_receiver),
                         case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint())
                              else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end) as tli,
                (select status from pg_stat_wal_receiver) as wr_status,
                (select sender_host || ':' || sender_port from pg_stat_wal_receiver) as sender`,
        [],
        this.config().profile.probeTimeoutMs * 4,
      );
      s.up = true;
      s.role = r.in_recovery ? 'standby' : 'primary';
      s.timeline = r.tli ?? undefined;
      s.currentLsn = r.current_lsn ?? undefined;
      s.receiveLsn = r.receive_lsn ?? undefined;
      s.replayLsn = r.replay_lsn ?? undefined;
      s.streaming = r.wr_status === 'streaming';
      const up = this.config().nodes.find((x) => `127.0.0.1:${x.port}` === r.sender);
      s.upstream = up?.name ?? r.sender ?? undefined;
    } catch (e) {
      // Running but not answering (frozen, overloaded, starting up): not the same as down.
      s.role = 'unreachable';
      s.error = (e as Error).message;
    }
    return s;
  }

  private async pgpoolStatus(p: LabPgpool): Promise<PgpoolStatus> {
    const out: PgpoolStatus = { name: p.name, port: p.port, pcpPort: p.pcpPort, up: false, nodes: [] };
    try {
      const rows = await this.query<Record<string, string>>(p.name, 'SHOW POOL_NODES', [], 3000, {
        user: 'pgpool',
        database: 'postgres',
      });
      out.up = true;
      const names = new Map(this.config().nodes.map((n) => [String(n.port), n.name]));
      out.nodes = rows.map((r) => ({
        id: Number(r.node_id),
        name: names.get(String(r.port)) ?? `${r.hostname}:${r.port}`,
        status: r.status === 'down' ? 'down' : 'up',
        role: r.role,
        pgRole: r.pg_role,
        selectCount: Number(r.select_cnt),
        loadBalanceNode: r.load_balance_node === 'true',
        replicationDelay: Number(r.replication_delay),
        lbWeight: Number(r.lb_weight),
      }));
    } catch (e) {
      out.error = (e as Error).message;
    }
    return out;
  }

  // ---------- elastic standbys (scale out / scale in, issue 4) ----------
  // The lab's stand-in for launching / terminating a database instance; the scale-out and scale-in
  // workflows do the PostgreSQL and pgpool work on it.

  /** Forget the cached lab.json: another process (the control plane) may have added or removed a node. */
  reloadConfig(): LabConfig {
    this.cfg = undefined;
    return this.config();
  }

  /**
   * Provision a new database node: the next name (pg4, ...), its own port from the port base, the
   * next pgpool backend id, its env file; every pgpool's env file lists it as a backend. Nothing is
   * started: the scale-out workflow makes it a standby and adds it to pgpool.
   */
  addNode(): LabNode {
    const c = this.reloadConfig();
    const id = Math.max(...c.nodes.map((n) => n.backendId)) + 1;
    if (id > 9)
      throw new LabError(`no port left for another node (ports ${c.portBase}..${c.portBase + 9} are for nodes)`);
    const num = Math.max(...c.nodes.map((n) => Number(/^pg(\d+)$/.exec(n.name)?.[1] ?? 0))) + 1;
    const node: LabNode = { name: `pg${num}`, port: c.portBase + id, backendId: id };
    this.saveConfig({ ...c, nodes: [...c.nodes, node] });
    return node;
  }

  /**
   * Deprovision a node that scale-in has stopped: its data is deleted. It leaves lab.json only when it
   * is the last pgpool backend, so that the backend ids of the other nodes never shift.
   */
  removeNode(name: string): void {
    const c = this.reloadConfig();
    const n = this.node(name);
    if (this.postmasterPid(name)) throw new LabError(`node ${name} is still running`);
    rmSync(this.nodeDir(name), { recursive: true, force: true });
    const last = Math.max(...c.nodes.map((x) => x.backendId));
    if (n.backendId === last) this.saveConfig({ ...c, nodes: c.nodes.filter((x) => x.name !== name) });
  }

  private saveConfig(next: LabConfig): void {
    writeFileSync(`${this.configFile}.tmp`, JSON.stringify(next, null, 2));
    renameSync(`${this.configFile}.tmp`, this.configFile);
    this.cfg = next;
    this.writeEnvFiles();
    const u = next.osUser;
    if (u) {
      for (const d of [
        ...next.nodes.map((x) => this.nodeDir(x.name)),
        ...next.pgpools.map((p) => this.pgpoolDir(p.name)),
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
}

export interface NodeStatus {
  name: string;
  port: number;
  up: boolean;
  role: 'primary' | 'standby' | 'down' | 'unreachable';
  expectedRole: string;
  fenced: boolean;
  streaming: boolean;
  upstream?: string;
  timeline?: number;
  currentLsn?: string;
  receiveLsn?: string;
  replayLsn?: string;
  lagBytes?: number;
  replayLagMs?: number;
  syncState?: string;
  connection: string;
  error?: string;
}

export interface PgpoolStatus {
  name: string;
  port: number;
  pcpPort: number;
  up: boolean;
  nodes: {
    id: number;
    name: string;
    status: 'up' | 'down';
    role: string;
    pgRole: string;
    selectCount: number;
    loadBalanceNode: boolean;
    replicationDelay: number;
    lbWeight: number;
  }[];
  error?: string;
}

export interface LabStatus {
  cluster: string;
  dir: string;
  profile: string;
  automation: string;
  topologyPrimary: string;
  timeline: number;
  /** The synchronous replication in force, and DEGRADED with the reason when weaker than configured. */
  synchronous: string;
  nodes: NodeStatus[];
  pgpools: PgpoolStatus[];
  endpoint: string;
  services: Record<string, string>;
  redisUp: boolean;
  controlPlaneUp: boolean;
}

// ---------- helpers ----------

function synchronousLine(t: Topology): string {
  const degraded = syncDegraded(t);
  if (degraded) return `DEGRADED: ${degraded}`;
  const r = t.sync;
  if (!r)
    return t.syncQuorum > 0 ? `ANY ${t.syncQuorum} configured (nothing recorded yet)` : 'asynchronous (configured)';
  return r.quorum > 0 ? `ANY ${r.quorum} (${r.standbys.join(', ')}) in force` : 'asynchronous (configured)';
}

/**
 * The lab's private CA and one server certificate for 127.0.0.1 and localhost, made by the script the
 * EC2 instances run (infra/node/tls-certs.sh). chownTree gives them to the database OS user.
 */
function makeCertificates(dir: string): void {
  const script = join(NODE_SCRIPTS_SRC, 'tls-certs.sh');
  for (const args of [
    ['ca', dir],
    ['server', dir, 'IP:127.0.0.1,DNS:localhost'],
  ]) {
    const r = runSync('bash', [script, ...args]);
    if (r.code !== 0) throw new LabError(`tls-certs.sh ${args[0]} failed: ${r.stderr.trim()}`);
  }
}

function writeEnv(file: string, vars: Record<string, string>): void {
  const body = Object.entries(vars)
    .map(([k, v]) => `${k}=${shellQuote(v)}\n`)
    .join('');
  writeFileSync(file, `# Written by the pgwarden lab (EC2 user data writes the same file).\n${body}`);
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function realpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function listProc(): { pid: number; ppid: number; cwd: string }[] {
  const out: { pid: number; ppid: number; cwd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, cwd });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function lastLines(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}
