/**
 * The failover drill: a write load through pgpool, a SIGKILL of the primary, and the figures an HA
 * engineer asks for: each workflow step with its duration, the RTO (longest gap between two
 * acknowledged writes around the kill, and kill to first acknowledged write), and how many
 * acknowledged writes are missing afterwards. Runs against the lab through the same API a user has.
 */
import { Client } from 'pg';
import { ALARMS, alarmName } from '../../functions/lib/alarms';
import type { Lab, LabStatus } from './lab';
import { waitFor } from './proc';
import type { ExecutionSummary as RunnerExecution } from './execution-journal';

export type TriggerPath = 'pgpool' | 'alarm' | 'ec2' | 'operator';

/**
 * What happens to the primary: SIGKILL of its processes (a crash: its port refuses at once), SIGSTOP
 * of them (a frozen host: connections hang), or a partition that cuts it off from everything (its
 * packets dropped). A frozen or partitioned primary is failed over once its standbys stop hearing it
 * (wal_receiver_timeout); its instance still runs, so no EC2 event reports it.
 */
export type Fault = 'kill' | 'freeze' | 'partition';
export const FAULTS: readonly Fault[] = ['kill', 'freeze', 'partition'];

/** How the drill, its report and the bench speak of each fault. */
export const FAULT_WORDS: Record<Fault, { doing: string; done: string; title: string }> = {
  kill: { doing: 'killing', done: 'killed', title: 'SIGKILL' },
  freeze: { doing: 'freezing', done: 'froze', title: 'SIGSTOP (frozen)' },
  partition: { doing: 'partitioning', done: 'partitioned', title: 'a partition from everything' },
};

/** A --fault word as a Fault (undefined: the default, kill); throws naming the words for any other. */
export function parseFault(word: string | undefined): Fault {
  const fault = word ?? 'kill';
  if (!(FAULTS as readonly string[]).includes(fault))
    throw new Error(`--fault must be one of ${FAULTS.join(', ')}, got "${fault}"`);
  return fault as Fault;
}

/** Trigger paths that can notice `fault`, or why not. */
export function faultProblem(fault: Fault, trigger: TriggerPath): string | undefined {
  if (fault !== 'kill' && trigger === 'ec2')
    return `a ${fault === 'freeze' ? 'frozen' : 'partitioned'} primary's instance keeps running: no EC2 event reports it (--trigger pgpool, alarm or operator)`;
  return undefined;
}

/** A step of an execution as the lab's API lists it. */
export type StepTiming = RunnerExecution['steps'][number];

export interface DrillResult {
  trigger: TriggerPath;
  fault: Fault;
  outcome: string;
  execution?: string;
  oldPrimary: string;
  newPrimary?: string;
  timeline?: number;
  killAt: string;
  /** Fault to the first acknowledged write that was sent after the fault. */
  firstWriteAfterKillMs: number | null;
  /** Longest gap between two consecutive acknowledged writes in the window around the kill. */
  rtoMs: number | null;
  acknowledged: number;
  lostWrites: number;
  /** Client errors: endedSessions + failedConnects. */
  errors: number;
  /** Statements that failed because their session ended (each writer then reconnects). */
  endedSessions: number;
  /** New connections that failed (refused, or the writer's 2 s connect timeout ran out). */
  failedConnects: number;
  /** What the writers' drivers said, by kind and message, most frequent first. */
  clientErrors: ClientError[];
  workflowMs?: number;
  steps: StepTiming[];
  checks: Record<string, boolean>;
  profile: string;
}

export interface LoadHandle {
  stop(): Promise<void>;
  /** Acknowledged writes: when the INSERT was sent and when its commit was acknowledged. */
  acked: { id: number; start: number; at: number }[];
  /** endedSessions + failedConnects. */
  errors: number;
  /** Statements that failed on an established session (the session ended: the writer reconnects). */
  endedSessions: number;
  /** Connection attempts that failed: refused, or not ready within the writer's connect timeout. */
  failedConnects: number;
  /** The errors behind endedSessions and failedConnects, by kind and message, most frequent first. */
  clientErrors(): ClientError[];
}

/** One kind of client error and how often the writers met it. */
export interface ClientError {
  kind: 'ended-session' | 'failed-connect';
  message: string;
  count: number;
}

/** A writer's connect timeout (node-postgres connectionTimeoutMillis: until the session is ready). */
export const WRITER_CONNECT_TIMEOUT_MS = 2000;

/** How each writer connects: one session kept until it fails (a client pool) or one per write. */
export type WriterConnections = 'session' | 'per-write';

/**
 * N writers, each committing single-row INSERTs through the endpoint as fast as it can. `per-write`:
 * each INSERT on a connection of its own, ended after it (an application that connects per request,
 * pgpool's connection cache serving it).
 */
export async function startWriteLoad(
  lab: Lab,
  opts: { writers?: number; port?: number; table?: string; connections?: WriterConnections } = {},
): Promise<LoadHandle> {
  const perWrite = opts.connections === 'per-write';
  const table = opts.table ?? 'drill_writes';
  const c0 = await lab.client('pgpool', { user: 'app', database: 'app' });
  await c0.query(
    `create table if not exists ${table} (id bigint primary key, writer int not null, at timestamptz not null default now())`,
  );
  await c0.end();
  const acked: { id: number; start: number; at: number }[] = [];
  // Every client error by kind and message; the counts of each kind are sums of these.
  const errorCounts = new Map<string, ClientError>();
  const countOf = (kind: ClientError['kind']) =>
    [...errorCounts.values()].filter((e) => e.kind === kind).reduce((n, e) => n + e.count, 0);
  let running = true;
  let nextId = Date.now() * 1000;
  const conn = lab.connectionString('pgpool', 'app', 'app').replace(/:(\d+)\//, opts.port ? `:${opts.port}/` : ':$1/');
  const writer = async (w: number) => {
    let c: Client | undefined;
    let connecting = false;
    while (running) {
      try {
        if (!c) {
          connecting = true;
          c = new Client({
            connectionString: conn,
            connectionTimeoutMillis: WRITER_CONNECT_TIMEOUT_MS,
            query_timeout: 5000,
            application_name: `drill-writer-${w}`,
          });
          c.on('error', () => undefined);
          await c.connect();
          connecting = false;
        }
        const id = nextId++;
        const start = Date.now();
        await c.query(`insert into ${table} (id, writer) values ($1, $2)`, [id, w]);
        acked.push({ id, start, at: Date.now() });
        if (perWrite) {
          const done = c;
          c = undefined;
          await done.end().catch(() => undefined);
        }
      } catch (err) {
        const kind = connecting ? 'failed-connect' : 'ended-session';
        const message = err instanceof Error ? err.message : String(err);
        const e = errorCounts.get(`${kind}\n${message}`) ?? { kind, message, count: 0 };
        e.count++;
        errorCounts.set(`${kind}\n${message}`, e);
        connecting = false;
        const dead = c;
        c = undefined;
        dead?.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 10)); // reconnect backoff of the load generator
      }
    }
    await c?.end().catch(() => undefined);
  };
  const tasks = Array.from({ length: opts.writers ?? 4 }, (_, i) => writer(i));
  return {
    acked,
    get errors() {
      return countOf('ended-session') + countOf('failed-connect');
    },
    get endedSessions() {
      return countOf('ended-session');
    },
    get failedConnects() {
      return countOf('failed-connect');
    },
    clientErrors() {
      return [...errorCounts.values()].sort((a, b) => b.count - a.count).map((e) => ({ ...e }));
    },
    async stop() {
      running = false;
      await Promise.all(tasks);
    },
  };
}

/** Acknowledged ids that are not in the table (read through the endpoint, from the primary). */
export async function missingWrites(lab: Lab, acked: { id: number }[], table = 'drill_writes'): Promise<number> {
  const c = await lab.client('pgpool', { user: 'app', database: 'app' });
  try {
    // A write transaction pins the read to the primary (disable_load_balance_on_write = transaction).
    await c.query('begin');
    await c.query(`create temp table acked (id bigint) on commit drop`);
    for (let i = 0; i < acked.length; i += 5000) {
      await c.query('insert into acked select unnest($1::bigint[])', [acked.slice(i, i + 5000).map((a) => a.id)]);
    }
    const r = await c.query(
      `select count(*)::int as n from acked a where not exists (select 1 from ${table} t where t.id = a.id)`,
    );
    await c.query('commit');
    return r.rows[0].n as number;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * The longest gap between two consecutive acknowledged writes around `from` (the kill), and the time
 * from `from` to the first acknowledged write that was sent after it. With no write acknowledged
 * before `from`, the gap runs from `from` itself: a load that had not started writing yet must not
 * hide the fault's first seconds.
 */
export function gaps(
  acked: { start: number; at: number }[],
  from: number,
  to: number,
): { longest: number; firstAfter: number | null } {
  const times = acked.map((a) => a.at).sort((a, b) => a - b);
  let longest = 0;
  let prev: number | undefined;
  for (const t of times) {
    if (t < from - 2000 || t > to) {
      prev = t;
      continue;
    }
    if (prev === undefined && t > from) prev = from;
    if (prev !== undefined) longest = Math.max(longest, t - prev);
    prev = t;
  }
  // A loop, not Math.min(...after): a soak acknowledges hundreds of thousands of writes.
  let first = Infinity;
  for (const a of acked) if (a.start > from && a.at < first) first = a.at;
  return { longest, firstAfter: Number.isFinite(first) ? first - from : null };
}

async function api<T>(lab: Lab, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${lab.apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(`${method} ${path}: ${j.error ?? r.status}`);
  return j;
}

export { api as labApi };

/** An execution as the lab's API lists it (the runner's summary), with the input and output the drills read. */
export type ExecutionSummary = Omit<RunnerExecution, 'input' | 'output'> & {
  input: { trigger?: { source: string } };
  output?: { promote?: { node: string; timeline: number }; record?: { outcome: string; summary?: string } };
};

export async function executions(lab: Lab): Promise<ExecutionSummary[]> {
  return (await api<{ executions: ExecutionSummary[] }>(lab, 'GET', '/v1/executions')).executions;
}

/** Execution `name` once it has ended (any status but RUNNING), looked for every 250 ms up to `timeoutMs`. */
export function executionEnded(
  lab: Lab,
  name: string,
  timeoutMs: number,
  label = `execution ${name} to end`,
): Promise<ExecutionSummary> {
  return waitFor(
    label,
    async () => (await executions(lab)).find((e) => e.name === name && e.status !== 'RUNNING'),
    timeoutMs,
    250,
  );
}

/** Outcomes of a failover execution that did not handle the failure itself. */
const NOT_THE_FAILOVER = new Set(['standby-failure', 'duplicate']);

/**
 * Wait for the failover execution that handled a failure: the first failover execution not in `known`
 * that has ended, started at or after `since` (not a false alarm from before the fault), and was
 * neither another trigger of the same failure ('duplicate') nor a standby's ('standby-failure'), and
 * matches `what`.
 */
export async function finishedFailover(
  lab: Lab,
  known: Set<string>,
  opts: { since?: number; what?: (e: ExecutionSummary) => boolean; timeoutMs?: number } = {},
): Promise<ExecutionSummary> {
  const candidates = async () =>
    (await executions(lab)).filter(
      (e) =>
        e.workflow === 'failover' &&
        !known.has(e.name) &&
        (opts.since === undefined || Date.parse(e.startedAt) >= opts.since),
    );
  try {
    return await waitFor(
      'a failover workflow to finish',
      async () =>
        (await candidates()).find(
          (e) =>
            e.status !== 'RUNNING' &&
            !NOT_THE_FAILOVER.has(e.output?.record?.outcome ?? '') &&
            (opts.what?.(e) ?? true),
        ),
      opts.timeoutMs ?? 90_000,
      100,
    );
  } catch (e) {
    // Say what did run: a timeout alone does not tell a failover that never started from one that
    // stopped (inconclusive, duplicate) or is still running.
    const seen = await candidates().then(
      describeExecutions,
      (err: Error) => `(executions unavailable: ${err.message})`,
    );
    throw new Error(`${(e as Error).message}; failover executions since the fault: ${seen}`, {
      cause: e,
    });
  }
}

/** One line per execution: name, status, outcome and the reason its steps gave, for an error message. */
export function describeExecutions(seen: ExecutionSummary[]): string {
  if (seen.length === 0) return 'none';
  return seen
    .map((e) => {
      const out = e.output;
      const why = out?.record?.summary ?? (e.error ? `${e.error.Error}: ${e.error.Cause}` : '');
      return `${e.name} ${e.status}${out?.record?.outcome ? ` ${out.record.outcome}` : ''}${why ? ` (${why})` : ''}`;
    })
    .join('; ');
}

const SENSORS: Record<TriggerPath, { pgpool: boolean; alarm: boolean; ec2: boolean }> = {
  pgpool: { pgpool: true, alarm: false, ec2: false },
  alarm: { pgpool: false, alarm: true, ec2: false },
  ec2: { pgpool: false, alarm: false, ec2: true },
  operator: { pgpool: false, alarm: false, ec2: false },
};

export async function failoverDrill(
  lab: Lab,
  opts: {
    trigger?: TriggerPath;
    fault?: Fault;
    writers?: number;
    connections?: WriterConnections;
    warmupMs?: number;
    log?: (m: string) => void;
  } = {},
): Promise<DrillResult> {
  const trigger = opts.trigger ?? 'pgpool';
  const fault = opts.fault ?? 'kill';
  const why = faultProblem(fault, trigger);
  if (why) throw new Error(why);
  const log = opts.log ?? (() => undefined);
  await lab.waitReady(30_000);
  const before = await lab.status();
  const oldPrimary = before.topologyPrimary;
  const known = new Set((await executions(lab)).map((e) => e.name));
  await api(lab, 'POST', '/v1/sensors', SENSORS[trigger]);
  if (trigger === 'alarm') {
    // A steady state first: the alarm has evaluated real datapoints. A lab just up has none, and
    // missing data breaches, so the first evaluation (one alarm period after lab up: 10 s in the
    // aws-sim profile) would fire whether the primary is dead or not.
    const name = alarmName(
      lab.config().cluster,
      ALARMS.find((a) => a.starts === 'failover')!,
    );
    await waitFor(
      `alarm ${name} to be OK`,
      async () => (await api<{ alarms: Record<string, string> }>(lab, 'GET', '/v1/status')).alarms[name] === 'OK',
      60_000,
      200,
    );
  }
  const load = await startWriteLoad(lab, { writers: opts.writers ?? 4, connections: opts.connections });
  try {
    await waitFor('the write load to be acknowledged', () => load.acked.length > 50, 10_000);
    await new Promise((r) => setTimeout(r, opts.warmupMs ?? 500));
    log(
      `${FAULT_WORDS[fault].doing} primary ${oldPrimary} under write load (${load.acked.length} writes acknowledged so far)`,
    );
    const killAt = Date.now();
    injectFault(lab, fault, oldPrimary);
    if (trigger === 'operator')
      await api(lab, 'POST', '/v1/failover', { reason: 'drill: operator-initiated failover', wait: false });
    const exec = await finishedFailover(lab, known, { since: killAt, timeoutMs: 60_000 });
    await waitFor('writes to resume', () => load.acked.some((a) => a.at > killAt + 0), 30_000);
    // Keep writing a moment after the workflow, so that a late disruption (e.g. pgpool restarting
    // its children again) shows in the gap measurement.
    const settleUntil = Date.now() + 1500;
    await waitFor('the post-failover window', () => Date.now() > settleUntil, 5000);
    await load.stop();
    const g = gaps(load.acked, killAt, Date.now());
    const lost = await missingWrites(lab, load.acked);
    const after = await lab.status();
    const checks = checkCluster(after, oldPrimary, exec.output?.promote?.node);
    return {
      trigger,
      fault,
      outcome:
        exec.status === 'SUCCEEDED'
          ? exec.output?.record?.outcome === 'failed-over'
            ? 'succeeded'
            : (exec.output?.record?.outcome ?? 'unknown')
          : `failed: ${exec.error?.Error}`,
      execution: exec.name,
      oldPrimary,
      newPrimary: exec.output?.promote?.node,
      timeline: exec.output?.promote?.timeline,
      killAt: new Date(killAt).toISOString(),
      firstWriteAfterKillMs: g.firstAfter,
      rtoMs: g.longest,
      acknowledged: load.acked.length,
      lostWrites: lost,
      errors: load.errors,
      endedSessions: load.endedSessions,
      failedConnects: load.failedConnects,
      clientErrors: load.clientErrors(),
      workflowMs: exec.durationMs,
      steps: exec.steps,
      checks,
      profile: lab.config().profile.name,
    };
  } finally {
    await load.stop();
    endFault(lab, fault, oldPrimary);
    await api(lab, 'POST', '/v1/sensors', { pgpool: true, alarm: true, ec2: true }).catch(() => undefined);
  }
}

/** The fault, on the primary `node`. */
export function injectFault(lab: Lab, fault: Fault, node: string): void {
  if (fault === 'kill') lab.kill(node);
  else if (fault === 'freeze') lab.freeze(node);
  else lab.partitions.partition(node, 'all');
}

/**
 * The fault's end, once the failover is measured: a frozen node's processes resume (the fence has
 * killed them, or they find their data directory fenced), a partition heals. A fenced node stays
 * down until a rejoin brings it back.
 */
export function endFault(lab: Lab, fault: Fault, node: string): void {
  if (fault === 'freeze') lab.thaw(node);
  else if (fault === 'partition') lab.partitions.heal(node);
}

/** The safety checks every drill makes on the cluster afterwards. */
export function checkCluster(s: LabStatus, oldPrimary: string, newPrimary?: string): Record<string, boolean> {
  const primaries = s.nodes.filter((n) => n.role === 'primary');
  const others = s.nodes.filter((n) => n.name !== oldPrimary && n.name !== newPrimary);
  const np = s.nodes.find((n) => n.name === newPrimary);
  return {
    exactlyOnePrimary: primaries.length === 1 && primaries[0].name === newPrimary,
    oldPrimaryFenced: !!s.nodes.find((n) => n.name === oldPrimary && n.fenced && n.role !== 'primary'),
    standbysFollowNewPrimary: others.every(
      (n) => n.role === 'standby' && n.streaming && n.upstream === newPrimary && n.timeline === np?.timeline,
    ),
    everyPgpoolRoutesWritesToNewPrimary: s.pgpools.every((p) =>
      p.nodes.some((x) => x.name === newPrimary && x.role === 'primary' && x.status === 'up'),
    ),
    everyPgpoolDetachedOldPrimary: s.pgpools.every((p) =>
      p.nodes.some((x) => x.name === oldPrimary && x.status === 'down'),
    ),
    everyPgpoolReadsFromStandbys: s.pgpools.every((p) =>
      others.every((o) => p.nodes.some((x) => x.name === o.name && x.role === 'standby' && x.status === 'up')),
    ),
  };
}

export function renderDrill(r: DrillResult): string {
  const lines = [
    `failover drill (fault: ${r.fault}, trigger: ${r.trigger}, lab profile "${r.profile}")`,
    `  ${FAULT_WORDS[r.fault].done} primary ${r.oldPrimary} at ${r.killAt}; new primary ${r.newPrimary ?? '-'} on timeline ${r.timeline ?? '-'}; outcome ${r.outcome}`,
    `  workflow ${r.execution ?? '-'} took ${r.workflowMs ?? '-'} ms:`,
  ];
  for (const s of r.steps.filter((x) => x.durationMs !== undefined)) {
    lines.push(
      `    ${s.state.padEnd(28)} ${String(s.durationMs).padStart(6)} ms${s.attempts > 1 ? ` (${s.attempts} attempts)` : ''}${s.error ? `  ${s.error.slice(0, 80)}` : ''}`,
    );
  }
  lines.push(
    `  RTO: ${r.rtoMs} ms (longest gap between acknowledged writes); fault to first committed write sent after it: ${r.firstWriteAfterKillMs} ms`,
    `  writes: ${r.acknowledged} acknowledged, ${r.lostWrites} lost; client errors: ${r.endedSessions} statements of ended sessions, ${r.failedConnects} failed new connections (connect timeout ${WRITER_CONNECT_TIMEOUT_MS} ms)`,
    ...r.clientErrors.map((e) => `    ${e.count} x ${e.kind}: ${e.message}`),
    `  checks: ${Object.entries(r.checks)
      .map(([k, v]) => `${k} ${v ? 'ok' : 'FAILED'}`)
      .join(', ')}`,
  );
  return lines.join('\n');
}
