/**
 * What EC2 user data and SSM do on an instance, done on loopback: each node's and pgpool's env file
 * (/etc/pgwarden/*.env), the infra/node scripts installed where the database OS user reads them
 * (/opt/pgwarden/node), and a script run on a target with its PGW_PARAM_* parameters.
 */
import { chmodSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgpoolBinDir } from '../pgpool-build';
import { parseResult, run, runSync, type RunResult } from '../proc';
import { LabError, NODE_SCRIPTS_SRC } from './config';
import type { Lab } from './lab';

/** The env file of every node and pgpool (EC2 user data writes /etc/pgwarden/*.env). */
export function writeEnvFiles(lab: Lab): void {
  const c = lab.config();
  const common = {
    PGW_CLUSTER: c.cluster,
    PGW_PGBIN: c.pgbin,
    PGW_OS_USER: c.osUser ?? '',
    PGW_HOST: '127.0.0.1',
    PGW_HBA_CIDR: '127.0.0.1/32',
    PGW_SECRETS_ENV: lab.secretsFile,
    PGW_PGPASS: join(lab.dir, 'pgpass'),
    PGW_NODE_SCRIPTS: lab.scriptsDir,
    ...(c.tls
      ? {
          PGW_SSL_CERT: join(lab.tlsDir, 'server.crt'),
          PGW_SSL_KEY: join(lab.tlsDir, 'server.key'),
          PGW_SSL_CA: join(lab.tlsDir, 'ca.crt'),
        }
      : {}),
  };
  for (const n of c.nodes) {
    const d = lab.nodeDir(n.name);
    mkdirSync(d, { recursive: true });
    writeEnv(join(d, 'node.env'), {
      ...common,
      PGW_NODE: n.name,
      PGW_PORT: String(n.port),
      PGW_PGDATA: lab.dataDir(n.name),
      PGW_LOG_DIR: lab.logDir(n.name),
      PGW_SOCKET_DIR: join(d, 'run'),
    });
  }
  for (const p of c.pgpools) {
    const d = lab.pgpoolDir(p.name);
    mkdirSync(d, { recursive: true });
    writeEnv(join(d, 'pgpool.env'), {
      ...common,
      PGW_NODE: p.name,
      PGW_PGPOOL_DIR: d,
      PGW_PGPOOL_PORT: String(p.port),
      PGW_PCP_PORT: String(p.pcpPort),
      // As in AWS (configure-pgpool.sh's default). With 16, clients reconnecting during a failover
      // ran out of children on pgpool-II 4.3 (a switchover's write window grew by a second).
      // PGWARDEN_PGPOOL_CHILDREN sets another number (the switchover bench's comparisons).
      PGW_PGPOOL_CHILDREN: process.env.PGWARDEN_PGPOOL_CHILDREN ?? '32',
      PGW_BACKENDS: c.nodes.map((n) => `${n.name}=127.0.0.1:${n.port}`).join(' '),
      PGW_HEALTH_CHECK_PERIOD: String(c.profile.healthCheckPeriodS),
      PGW_HEALTH_CHECK_TIMEOUT: String(c.profile.healthCheckTimeoutS),
      PGW_HEALTH_CHECK_RETRIES: String(c.profile.healthCheckRetries ?? 1),
      PGW_CONNECT_TIMEOUT_MS: String(c.profile.pgpoolConnectTimeoutMs),
      // pgpool's log level (e.g. "log" to see its failover processing); warnings by default.
      ...(process.env.PGWARDEN_PGPOOL_LOG_LEVEL ? { PGW_PGPOOL_LOG_LEVEL: process.env.PGWARDEN_PGPOOL_LOG_LEVEL } : {}),
      PGW_PGPOOL_BIN: pgpoolBinDir(),
      // As in AWS (infra/aws/userdata/pgpool.sh): the hook returns once the workflow has started and
      // pgpool keeps searching for the promoted primary.
      ...(c.profile.name === 'aws-sim' ? { PGW_SEARCH_PRIMARY_TIMEOUT: '0' } : {}),
      // The hook POSTs the event to the control plane itself (no curl: infra/node/pgpool-failover-hook.sh);
      // the URL (it holds the API token) comes from a file, not from a command line ps shows. A
      // PGW_TRIGGER_CMD given in pgpoolEnv (the bench's native baseline) is run instead.
      ...(c.pgpoolEnv?.PGW_TRIGGER_CMD ? {} : { PGW_TRIGGER_URL_FILE: hookUrlFile(lab) }),
      ...c.pgpoolEnv,
    });
  }
}

/** The API URL pgpool's failover hook posts to, with the token, in a file of mode 0600. */
function hookUrlFile(lab: Lab): string {
  const file = join(lab.controlDir, 'pgpool-hook.url');
  // The lab's hook waits for the promotion (pgpool then finds the new primary at once); with the
  // aws-sim profile it returns at once, as the pgpool-hook Lambda does in AWS.
  const wait = lab.config().profile.name === 'aws-sim' ? '' : '?wait=1';
  writeFileSync(file, `${lab.apiUrl}/v1/triggers/pgpool${wait}\n`, { mode: 0o600 });
  return file;
}

/** Install the node scripts where the database OS user can read them (EC2: /opt/pgwarden/node). */
export function installScripts(lab: Lab): void {
  rmSync(lab.scriptsDir, { recursive: true, force: true });
  cpSync(NODE_SCRIPTS_SRC, lab.scriptsDir, { recursive: true });
}

/** The lab's folder to the database OS user, when the lab runs as root; secrets stay 0600. */
export function chownTree(lab: Lab): void {
  const u = lab.config().osUser;
  if (!u) return;
  const r = runSync('chown', ['-R', u, lab.dir]);
  if (r.code !== 0) throw new LabError(`chown ${u} ${lab.dir} failed: ${r.stderr}`);
  // Secrets stay private to the database OS user.
  for (const f of [lab.secretsFile, join(lab.dir, 'pgpass')]) chmodSync(f, 0o600);
  checkAccess(lab);
}

function checkAccess(lab: Lab): void {
  const u = lab.config().osUser;
  if (!u) return;
  const r = runSync('runuser', ['-u', u, '--', 'test', '-r', join(lab.scriptsDir, 'lib.sh')]);
  if (r.code !== 0) {
    throw new LabError(
      `the ${u} OS user cannot reach ${lab.dir}: choose a lab folder it can traverse, e.g. PGWARDEN_LAB_DIR=/var/lib/pgwarden/lab`,
    );
  }
}

/** Run an infra/node script on a node or pgpool, as SSM would on EC2. */
export async function runScript(
  lab: Lab,
  target: string,
  script: string,
  params: Record<string, string> = {},
  timeoutMs = 180_000,
  signal?: AbortSignal,
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    PGW_NODE_ENV: lab.targetEnvFile(target),
  };
  for (const [k, v] of Object.entries(params)) env[`PGW_PARAM_${k}`] = v;
  // Run "on" the target: in its cgroup, where what it starts (postmaster, pgpool) stays (partitions).
  const [cmd, args] = lab.partitions.wrap(target.replace(/^lab:/, ''), 'bash', [join(lab.scriptsDir, `${script}.sh`)]);
  return run(cmd, args, { env, timeoutMs, signal });
}

/** A node script that must succeed: its result lines, or a LabError with its last lines of output. */
export async function scriptOk(
  lab: Lab,
  target: string,
  script: string,
  params: Record<string, string> = {},
): Promise<Record<string, string>> {
  const r = await lab.script(target, script, params);
  if (r.code !== 0) {
    throw new LabError(`${script} on ${target} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout, 6)}`);
  }
  return parseResult(r.stdout);
}

/** An env file as EC2 user data writes it: KEY='value' lines, shell-quoted. */
export function writeEnv(file: string, vars: Record<string, string>): void {
  const body = Object.entries(vars)
    .map(([k, v]) => `${k}=${shellQuote(v)}\n`)
    .join('');
  writeFileSync(file, `# Written by the pgwarden lab (EC2 user data writes the same file).\n${body}`);
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

export function lastLines(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}
