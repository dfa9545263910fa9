/**
 * The lab's configuration (lab.json) and what it is made of: the timing profiles, the nodes and
 * pgpools with their ports, the options a lab is created with, where it lives.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { AWS_PGPOOL_HEALTH_CHECK, AWS_SIM_LATENCIES } from '../aws-sim';
import { runSync } from '../proc';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const NODE_SCRIPTS_SRC = join(REPO_ROOT, 'infra', 'node');
export const DEFAULT_PORT_BASE = 25432;
export const ROOT_LAB_PARENT = '/var/lib/pgwarden';

/** Lab timings, shorter than AWS's (printed beside every figure). */
export interface LabProfile {
  name: string;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  alarmPeriodS: number;
  /**
   * When the alarms are evaluated: every alarm period, as CloudWatch does ('period', the default), or
   * also as soon as the prober has published a round ('datapoint': the lab's shorter model, where a
   * breaching datapoint does not wait for the period's end; the windows stay a period long).
   */
  alarmEvaluation?: 'period' | 'datapoint';
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
  // A killed primary ends the session the prober holds to it, which starts a round at once
  // (functions/probe/watch.ts); a frozen or cut-off one is found by these rounds. At 250 ms the rounds'
  // TLS connections slowed every failover step 20-30 % and pgpool's connecting children with them.
  probeIntervalMs: 500,
  // A probe is a new TLS connection and a backend fork: under the soak's write load on a 2-vCPU VM
  // they took 270-630 ms, so a 500 ms limit failed healthy primaries and set off a false-alarm
  // failover every few seconds. A killed primary refuses at once and a frozen or partitioned one is
  // confirmed by its standbys' wal_receiver_timeout, so detection does not wait for this limit.
  probeTimeoutMs: 1000,
  alarmPeriodS: 1,
  alarmEvaluation: 'datapoint',
  healthCheckPeriodS: 1,
  // Both longer than Linux's first SYN retransmission (1 s after the SYN): with 1 s each, one dropped
  // SYN failed a check, and a check begun during a short partition failed after the partition had
  // ended, so that pgpool detached a primary that was back (a false alarm, writes stopped seconds).
  healthCheckTimeoutS: 2,
  healthCheckRetries: 1,
  pgpoolConnectTimeoutMs: 2000,
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
  alarmEvaluation: 'period',
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
