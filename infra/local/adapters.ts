/** The lab's adapters behind pgwarden's ports: same interfaces as functions/lib/aws/*. */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NoCapacityError,
  NodeCommandBusyError,
  TopologyConflictError,
  type DbCredentials,
  type Deps,
  type InstanceControl,
  type MetricDatum,
  type MetricsSink,
  type NodeAction,
  type NodeCommandResult,
  type NodeCommandRunning,
  type NodeCommands,
  type NodeCommandStarted,
  type Notifier,
  type ProvisionedNode,
  type Secrets,
  type TopologyStore,
  type WorkflowStarter,
} from '../../functions/lib/ports';
import type { Topology } from '../../functions/lib/topology';
import { ms, sleep, ssmSeenAtMs } from './aws-sim';
import type { Lab, LabNode } from './lab';

/** The topology document as a JSON file (SSM Parameter Store in AWS), compare-and-set on version. */
export class FileTopologyStore implements TopologyStore {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly file: string) {}

  async get(cluster: string): Promise<Topology> {
    const t = JSON.parse(readFileSync(this.file, 'utf8')) as Topology;
    if (t.cluster !== cluster)
      throw new Error(`topology file ${this.file} is for cluster ${t.cluster}, not ${cluster}`);
    return t;
  }

  put(next: Topology): Promise<void> {
    // Serialise writers in this process; the version check makes the write a compare-and-set.
    const p = this.chain.then(() => {
      const cur = JSON.parse(readFileSync(this.file, 'utf8')) as Topology;
      if (cur.version !== next.version - 1) throw new TopologyConflictError(next.version - 1, cur.version);
      writeFileSync(`${this.file}.tmp`, JSON.stringify(next, null, 2));
      renameSync(`${this.file}.tmp`, this.file);
    });
    this.chain = p.catch(() => undefined);
    return p;
  }
}

/** A command LocalNodeCommands.start launched: kept in memory until an hour after it ended. */
interface LocalCommand {
  id: string;
  target: string;
  action: NodeAction;
  requestId?: string;
  startedAt: number;
  endedAt?: number;
  result?: NodeCommandResult;
  done: Promise<void>;
  abort: AbortController;
}

const KEEP_ENDED_MS = 3_600_000;

/** Node actions run the infra/node scripts locally, with the parameters SSM would pass. */
export class LocalNodeCommands implements NodeCommands {
  /** Started commands by id: the lab's stand-in for SSM's command history (this process only). */
  private readonly commands = new Map<string, LocalCommand>();
  private seq = 0;

  /** simulateSsm: SSM's delivery and the adapter's polling cadence are added (profile aws-sim). */
  constructor(
    private readonly lab: Lab,
    private readonly simulateSsm = false,
  ) {}

  async run(
    target: string,
    action: NodeAction,
    params: Record<string, string>,
    opts?: { timeoutMs?: number },
  ): Promise<NodeCommandResult> {
    const sent = Date.now();
    if (this.simulateSsm) await sleep(ms('ssmDelivery'));
    const r = await this.lab.script(target, action, params, opts?.timeoutMs ?? 120_000);
    // The caller sees the result at the SSM adapter's first poll after SSM reports it.
    if (this.simulateSsm) await sleep(Math.max(0, sent + ssmSeenAtMs(r.durationMs) - Date.now()));
    return { ok: r.code === 0, exitCode: r.code, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs };
  }

  async start(
    target: string,
    action: NodeAction,
    params: Record<string, string>,
    opts: { timeoutMs: number; requestId?: string },
  ): Promise<NodeCommandStarted> {
    const timeoutMs = opts?.timeoutMs;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new Error(
        `start of node command "${action}" on ${target}: timeoutMs must be a positive number, got ${String(timeoutMs)}`,
      );
    this.lab.targetEnvFile(target); // an unknown target fails here, as SendCommand does
    this.prune();
    const same = [...this.commands.values()].filter((c) => c.target === target && c.action === action);
    const mine = opts.requestId ? same.find((c) => c.requestId === opts.requestId) : undefined;
    if (mine) return { commandId: mine.id, reused: true };
    const busy = same.find((c) => !c.result);
    if (busy) throw new NodeCommandBusyError(target, action, busy.id);

    const c: LocalCommand = {
      id: `lab-${action}-${Date.now().toString(36)}-${++this.seq}`,
      target,
      action,
      requestId: opts.requestId,
      startedAt: Date.now(),
      done: Promise.resolve(),
      abort: new AbortController(),
    };
    const ended = (result: NodeCommandResult) => {
      c.result = result;
      c.endedAt = Date.now();
    };
    c.done = this.lab.script(target, action, params, timeoutMs, c.abort.signal).then(
      (r) =>
        ended({ ok: r.code === 0, exitCode: r.code, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs }),
      // Timed out or cancelled: SSM's TimedOut / Cancelled.
      (e: Error) =>
        ended({
          ok: false,
          exitCode: -1,
          stdout: '',
          stderr: c.abort.signal.aborted ? `${action} on ${target} cancelled` : e.message,
          durationMs: Date.now() - c.startedAt,
        }),
    );
    this.commands.set(c.id, c);
    return { commandId: c.id, reused: false };
  }

  async poll(target: string, commandId: string, waitMs: number): Promise<NodeCommandResult | NodeCommandRunning> {
    if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0)
      throw new Error(`poll of node command ${commandId}: waitMs must be a non-negative number, got ${String(waitMs)}`);
    const c = this.commands.get(commandId);
    if (!c || c.target !== target)
      throw new Error(
        `node command ${commandId} is unknown on ${target} (the lab keeps started commands in the control plane's memory: restarted since?)`,
      );
    if (!c.result && waitMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([c.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    return c.result ?? { running: true, status: 'InProgress' };
  }

  async cancel(target: string, commandId: string): Promise<void> {
    const c = this.commands.get(commandId);
    if (c && c.target === target && !c.result) c.abort.abort();
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, c] of this.commands) if (c.endedAt && now - c.endedAt > KEEP_ENDED_MS) this.commands.delete(id);
  }
}

/**
 * The "instances" of lab nodes. Stopping one: SIGKILL of every process of its data directory.
 * Provisioning one for a new standby: a lab node the cluster removed earlier (not running), else a new
 * node (Lab.addNode): what a spare instance and a launch are in AWS.
 */
export class LabInstanceControl implements InstanceControl {
  constructor(private readonly lab: Lab) {}

  async provision(t: Topology): Promise<ProvisionedNode> {
    const removed = new Set(t.nodes.filter((n) => n.role === 'removed').map((n) => n.name));
    const spare = this.lab.config().nodes.find((n) => removed.has(n.name) && !this.lab.postmasterPid(n.name));
    let n: LabNode;
    try {
      n = spare ?? this.lab.addNode();
    } catch (e) {
      throw new NoCapacityError((e as Error).message);
    }
    return { name: n.name, host: '127.0.0.1', port: n.port, backendId: n.backendId, instanceId: `lab:${n.name}` };
  }

  async forceStop(instanceId: string): Promise<void> {
    const name = instanceId.replace(/^lab:/, '');
    for (const pid of this.lab.nodeProcesses(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

export interface Sample {
  t: number;
  v: number;
}

/** CloudWatch stand-in: time series in memory, keyed by name and dimensions. */
export class MetricStore implements MetricsSink {
  readonly series = new Map<
    string,
    { name: string; dimensions: Record<string, string>; unit: string; samples: Sample[] }
  >();
  /** Called after each put (the lab's alarm evaluator, when it evaluates on datapoints). */
  onPut?: () => void;
  constructor(private readonly retentionMs = 3_600_000) {}

  static key(name: string, dims: Record<string, string> = {}): string {
    return `${name}|${Object.keys(dims)
      .sort()
      .map((k) => `${k}=${dims[k]}`)
      .join(',')}`;
  }

  async put(_ns: string, data: MetricDatum[]): Promise<void> {
    for (const d of data) {
      const k = MetricStore.key(d.name, d.dimensions);
      let s = this.series.get(k);
      if (!s) {
        s = { name: d.name, dimensions: d.dimensions ?? {}, unit: d.unit, samples: [] };
        this.series.set(k, s);
      }
      const t = (d.timestamp ?? new Date()).getTime();
      s.samples.push({ t, v: d.value });
      const cutoff = t - this.retentionMs;
      while (s.samples.length && s.samples[0].t < cutoff) s.samples.shift();
    }
    this.onPut?.();
  }

  window(name: string, dims: Record<string, string>, fromMs: number, toMs: number): number[] {
    const s = this.series.get(MetricStore.key(name, dims));
    return s ? s.samples.filter((x) => x.t >= fromMs && x.t < toMs).map((x) => x.v) : [];
  }
}

/** SNS stand-in: notifications appended to a file and kept in memory. */
export class LabNotifier implements Notifier {
  readonly sent: { at: string; subject: string; message: Record<string, unknown> }[] = [];
  constructor(private readonly file: string) {}
  async notify(subject: string, message: Record<string, unknown>): Promise<void> {
    const n = { at: new Date().toISOString(), subject, message };
    this.sent.push(n);
    if (this.sent.length > 500) this.sent.shift();
    appendFileSync(this.file, JSON.stringify(n) + '\n');
  }
}

export class LabSecrets implements Secrets {
  constructor(private readonly lab: Lab) {}
  admin(): Promise<DbCredentials> {
    return this.withCa({ user: 'pgwarden', password: this.lab.secrets().PGW_PW_PGWARDEN, database: 'postgres' });
  }
  pgpool(): Promise<DbCredentials> {
    return this.withCa({ user: 'pgpool', password: this.lab.secrets().PGW_PW_PGPOOL, database: 'postgres' });
  }
  private async withCa(creds: DbCredentials): Promise<DbCredentials> {
    // A lab with TLS: the steps verify the servers with the lab's CA, as the Lambdas do with the cluster's.
    const ca = this.lab.caFile;
    return ca ? { ...creds, ca: readFileSync(ca, 'utf8') } : creds;
  }
}

export function labDeps(lab: Lab, workflows: WorkflowStarter, metrics: MetricsSink, notifier: Notifier): Deps {
  const cluster = lab.config().cluster;
  return {
    cluster,
    topology: new FileTopologyStore(lab.topologyFile),
    nodes: new LocalNodeCommands(lab, lab.config().profile.name === 'aws-sim'),
    instances: new LabInstanceControl(lab),
    workflows,
    metrics,
    notifier,
    secrets: new LabSecrets(lab),
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: (msg, fields) => lab.log(`${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`),
  };
}

export function notificationsFile(lab: Lab): string {
  return join(lab.controlDir, 'notifications.jsonl');
}
