/** A new lab: its configuration, private folder, passwords, certificates and first topology record. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../../../functions/lib/topology';
import { PGBIN } from '../doctor';
import { ensurePrivateDir, uidOf } from '../private-dir';
import { runSync } from '../proc';
import {
  DEFAULT_PORT_BASE,
  LabError,
  NODE_SCRIPTS_SRC,
  profileByName,
  ROOT_LAB_PARENT,
  type LabConfig,
  type LabNode,
  type LabOptions,
  type LabPgpool,
  type Secrets,
} from './config';
import type { Lab } from './lab';

const STANDARD_PORTS = [5432, 6379, 9999, 8080, 9898];

export function createLab(lab: Lab, opts: LabOptions): LabConfig {
  const base = opts.portBase ?? Number(process.env.PGWARDEN_PORT_BASE ?? DEFAULT_PORT_BASE);
  if (!Number.isInteger(base) || base < 1024 || base > 65000) throw new LabError(`invalid port base ${base}`);
  const standbys = opts.standbys ?? 2;
  const pgpools = opts.pgpools ?? Number(process.env.PGWARDEN_PGPOOLS ?? 1);
  if (standbys < 1 || standbys > 6) throw new LabError(`standbys must be 1..6, got ${standbys}`);
  if (pgpools < 1 || pgpools > 4) throw new LabError(`pgpools must be 1..4, got ${pgpools}`);
  const p = portsFor(base, standbys, pgpools);
  const all = [...p.nodes.map((n) => n.port), ...p.pools.flatMap((x) => [x.port, x.pcpPort]), p.redisPort, p.apiPort];
  const clash = all.filter((x) => STANDARD_PORTS.includes(x));
  if (clash.length) throw new LabError(`port base ${base} puts lab services on standard ports ${clash.join(', ')}`);
  const isRoot = process.getuid?.() === 0;
  const cfg: LabConfig = {
    cluster: 'lab',
    dir: lab.dir,
    portBase: base,
    osUser: isRoot ? 'postgres' : null,
    pgbin: PGBIN,
    nodes: p.nodes,
    pgpools: p.pools,
    redisPort: p.redisPort,
    apiPort: p.apiPort,
    xrayPort: p.xrayPort,
    appPort: p.appPort,
    profile: profileByName(opts.profile),
    pgpoolEnv: opts.pgpoolEnv,
    tls: opts.tls ?? process.env.PGWARDEN_LAB_TLS !== '0',
    createdAt: new Date().toISOString(),
  };
  ensurePrivateLabDir(lab.dir, cfg.osUser);
  mkdirSync(join(lab.dir, 'control'), { recursive: true, mode: 0o700 });
  writeFileSync(lab.configFile, JSON.stringify(cfg, null, 2));
  const secrets: Secrets = {};
  for (const k of ['POSTGRES', 'REPLICATOR', 'PGWARDEN', 'PGPOOL', 'APP', 'PCP', 'REDIS']) {
    secrets[`PGW_PW_${k}`] = randomBytes(12).toString('hex');
  }
  writeFileSync(
    lab.secretsFile,
    Object.entries(secrets)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  writeFileSync(
    join(lab.dir, 'pgpass'),
    `*:*:*:replicator:${secrets.PGW_PW_REPLICATOR}\n*:*:*:pgwarden:${secrets.PGW_PW_PGWARDEN}\n`,
    { mode: 0o600 },
  );
  if (cfg.tls) makeCertificates(lab.tlsDir);
  writeFileSync(lab.topologyFile, JSON.stringify(initialTopology(cfg), null, 2));
  return cfg;
}

/** An existing lab keeps the port base and profile it was created with. */
export function checkOptionsMatch(lab: Lab, opts: LabOptions): void {
  const c = lab.config();
  if (opts.portBase !== undefined && opts.portBase !== c.portBase) {
    throw new LabError(
      `the lab at ${lab.dir} uses port base ${c.portBase}; run "pgwarden lab down --purge" first to change it`,
    );
  }
  if (opts.profile !== undefined && profileByName(opts.profile).name !== c.profile.name) {
    throw new LabError(
      `the lab at ${lab.dir} runs profile ${c.profile.name}; run "pgwarden lab down --purge" first to change it`,
    );
  }
}

/** The lab folder is ours (or the database OS user's, after chownTree) and nobody else can write in it. */
export function ensurePrivateLabDir(dir: string, osUser: string | null): void {
  const owners = [process.getuid?.() ?? 0];
  const db = osUser ? uidOf(osUser) : undefined;
  if (db !== undefined) owners.push(db);
  if (dir.startsWith(`${ROOT_LAB_PARENT}/`)) ensurePrivateDir(ROOT_LAB_PARENT, [0], 0o755);
  ensurePrivateDir(dir, owners);
}

/** The topology record of a new lab: the first node primary, the others its standbys. */
function initialTopology(c: LabConfig): Topology {
  return {
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
