/**
 * The soak (issue 13): a seeded random schedule of faults under write load through every pgpool, with
 * the safety promises checked all along and at the end:
 * - never two nodes out of recovery that a pgpool routes writes to;
 * - every acknowledged write present at the end;
 * - after each fault (and the last), back to one primary with every standby streaming from it and
 *   every pgpool routing to them, within a bound;
 * - every workflow execution ended (none left running) in a recorded state.
 * The same seed replays the same schedule. What the lab restores by itself after a fault is only what
 * a cloud restores: a killed instance or pgpool comes back (`lab start`, pgpool-start); everything
 * else (fencing, promotion, rejoin, re-attach) is pgwarden's job.
 */
import { parseArgs } from 'node:util';
import { defaultLabDir, Lab, type LabStatus } from './lab';
import { executions, gaps, labApi, startWriteLoad, type LoadHandle } from './drill';
import { readPid } from './lab/processes';
import { isAlive, waitFor } from './proc';
import { UsageError } from './usage-error';

export const FAULT_KINDS = [
  'kill-primary',
  'freeze-primary',
  'partition-primary',
  'kill-standby',
  'kill-pgpool',
  'restart-control-plane',
  'trigger-storm',
  'switchover-mid-fault',
  'rejoin-mid-fault',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  n: number;
  kind: FaultKind;
  /** How long the fault is held (frozen, partitioned) or how long the harness waits before restoring. */
  holdMs: number;
  /** Which standby / pgpool (an index into the current list), where the fault needs one. */
  pick: number;
}

export interface FaultResult extends Fault {
  target?: string;
  recovered: boolean;
  recoveryMs?: number;
  /** The longest time without an acknowledged write, from the fault's start until whole again. */
  longestWriteGapMs?: number;
  note?: string;
}

export interface SoakOptions {
  seed: number;
  faults: number;
  /** The cluster must be whole again within this after each fault (default 120 s). */
  recoveryBoundMs?: number;
  writersPerPgpool?: number;
  log?: (m: string) => void;
}

export interface SoakResult {
  seed: number;
  schedule: Fault[];
  results: FaultResult[];
  faultsSurvived: number;
  acknowledged: number;
  lost: number;
  clientErrors: number;
  longestWriteGapMs: number;
  violations: string[];
  executions: Record<string, number>;
  unfinishedExecutions: string[];
  ok: boolean;
}

/** mulberry32: a small seeded generator, so that a seed replays the same schedule. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function schedule(seed: number, faults: number): Fault[] {
  if (!Number.isInteger(faults) || faults < 1 || faults > 1000)
    throw new Error(`--faults must be 1..1000, got ${faults}`);
  const r = rng(seed);
  return Array.from({ length: faults }, (_, i) => ({
    n: i + 1,
    kind: FAULT_KINDS[Math.floor(r() * FAULT_KINDS.length)],
    holdMs: 1000 + Math.floor(r() * 4000),
    pick: Math.floor(r() * 1000),
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nodes out of recovery that at least one pgpool routes writes to (role primary, status up). */
export function writablePrimaries(s: LabStatus): string[] {
  return s.nodes
    .filter((n) => n.role === 'primary')
    .filter((n) =>
      s.pgpools.some((p) => p.nodes.some((x) => x.name === n.name && x.role === 'primary' && x.status === 'up')),
    )
    .map((n) => n.name);
}

/** One primary (the topology's), every other member streaming from it on its timeline, every pgpool whole. */
export function whole(s: LabStatus, topo: ReturnType<Lab['readTopology']>): string | undefined {
  const p = s.nodes.find((n) => n.name === topo.primary);
  if (!p || p.role !== 'primary') return `primary of record ${topo.primary} is ${p?.role ?? 'unknown'}`;
  const others = s.nodes.filter((n) => n.role === 'primary' && n.name !== p.name);
  if (others.length) return `${others.map((n) => n.name).join(', ')} also out of recovery`;
  for (const m of topo.nodes.filter((n) => n.name !== p.name && n.role !== 'removed')) {
    const n = s.nodes.find((x) => x.name === m.name);
    if (!n || n.role !== 'standby' || !n.streaming || n.upstream !== p.name || n.timeline !== p.timeline)
      return `${m.name} is not a standby streaming from ${p.name} (${n?.role ?? 'unknown'}${n?.fenced ? ', fenced' : ''})`;
  }
  for (const pp of s.pgpools) {
    if (!pp.up) return `${pp.name} is down`;
    for (const n of pp.nodes.filter((x) => topo.nodes.some((m) => m.name === x.name && m.role !== 'removed'))) {
      if (n.status !== 'up') return `${pp.name} sees ${n.name} down`;
      if ((n.name === p.name) !== (n.role === 'primary')) return `${pp.name} has ${n.name} as ${n.role}`;
    }
  }
  return undefined;
}

export async function soak(lab: Lab, opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => undefined);
  const bound = opts.recoveryBoundMs ?? 120_000;
  const plan = schedule(opts.seed, opts.faults);
  const violations: string[] = [];
  const results: FaultResult[] = [];
  log(`soak: seed ${opts.seed}, ${plan.length} faults: ${plan.map((f) => f.kind).join(', ')}`);
  await lab.waitReady(60_000);

  // The continuous check: every 250 ms, from outside the lab's parts (partitions do not blind it).
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const s = await lab.status().catch(() => undefined);
      const w = s ? writablePrimaries(s) : [];
      if (w.length > 1) violations.push(`${new Date().toISOString()}: ${w.join(' and ')} both writable and routed to`);
      await sleep(250);
    }
  })();

  const loads: LoadHandle[] = [];
  for (const p of lab.config().pgpools)
    loads.push(await startWriteLoad(lab, { writers: opts.writersPerPgpool ?? 2, port: p.port, table: 'soak_writes' }));
  // Writes flow through every pgpool before the first fault: a fault that begins while the writers
  // still connect would show no gap (nothing acknowledged yet to measure from).
  await waitFor('writes acknowledged through every pgpool', () => loads.every((l) => l.acked.length >= 20), 60_000, 50);
  const t0 = Date.now();
  try {
    for (const f of plan) {
      const r: FaultResult = { ...f, recovered: false };
      results.push(r);
      const injectedAt = Date.now();
      try {
        await inject(lab, f, r, log);
      } catch (e) {
        r.note = `fault not injected: ${(e as Error).message}`;
      }
      const started = Date.now();
      const { why, wholeAt } = await recover(lab, bound);
      r.recovered = why === undefined;
      r.recoveryMs = (wholeAt ?? Date.now()) - started;
      r.longestWriteGapMs = gaps(
        loads.flatMap((l) => l.acked),
        injectedAt,
        wholeAt ?? Date.now(),
      ).longest;
      if (why) r.note = `${r.note ? `${r.note}; ` : ''}not whole after ${bound} ms: ${why}`;
      log(
        `fault ${f.n} ${f.kind}${r.target ? ` (${r.target})` : ''}: ${r.recovered ? `recovered in ${r.recoveryMs} ms` : r.note}, longest write gap ${r.longestWriteGapMs} ms`,
      );
      if (!r.recovered) break;
    }
  } finally {
    lab.partitions.heal();
    for (const n of lab.config().nodes) lab.thaw(n.name);
    await Promise.all(loads.map((l) => l.stop()));
    watching = false;
    await watcher;
  }
  const acked = loads.flatMap((l) => l.acked);
  const lost = await lostWrites(lab, acked).catch(() => -1);
  // Read from the control plane (up again after a last fault that restarted it): an empty list read
  // from nowhere would count as "no execution left running".
  const execs = await waitFor(
    'the control plane to list the executions',
    () => executions(lab).catch(() => undefined),
    60_000,
    250,
  );
  const byStatus: Record<string, number> = {};
  for (const e of execs) byStatus[`${e.workflow} ${e.status}`] = (byStatus[`${e.workflow} ${e.status}`] ?? 0) + 1;
  const unfinished = execs.filter((e) => e.status === 'RUNNING').map((e) => e.name);
  const survived = results.filter((r) => r.recovered).length;
  return {
    seed: opts.seed,
    schedule: plan,
    results,
    faultsSurvived: survived,
    acknowledged: acked.length,
    lost,
    clientErrors: loads.reduce((a, l) => a + l.errors, 0),
    longestWriteGapMs: gaps(acked, t0 + 2000, Date.now()).longest,
    violations,
    executions: byStatus,
    unfinishedExecutions: unfinished,
    ok: violations.length === 0 && lost === 0 && survived === plan.length && unfinished.length === 0,
  };
}

/** Acknowledged writes missing on the primary, read from it directly (a pgpool may route nowhere). */
async function lostWrites(lab: Lab, acked: { id: number }[]): Promise<number> {
  const p = (await lab.status()).nodes.filter((n) => n.role === 'primary');
  if (p.length !== 1) throw new Error(`${p.length} primaries`);
  const c = await lab.client(p[0].name, { user: 'app', database: 'app' });
  try {
    const r = await c.query(
      'select count(*)::int as n from unnest($1::bigint[]) a(id) where not exists (select 1 from soak_writes t where t.id = a.id)',
      [acked.map((a) => a.id)],
    );
    return r.rows[0].n as number;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function primaryAndStandbys(lab: Lab) {
  const t = lab.readTopology();
  const standbys = t.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  return { primary: t.primary, standbys };
}

async function inject(lab: Lab, f: Fault, r: FaultResult, log: (m: string) => void): Promise<void> {
  const { primary, standbys } = await primaryAndStandbys(lab);
  const standby = standbys.length ? standbys[f.pick % standbys.length] : undefined;
  const pools = lab.config().pgpools;
  const pool = pools[f.pick % pools.length];
  const api = (path: string, body: unknown) =>
    labApi(lab, 'POST', path, body).catch((e: Error) => ({ error: e.message }));
  // The time, to read the fault beside the lab's logs (pgpool's, PostgreSQL's, the control plane's).
  log(`fault ${f.n}: ${f.kind} at ${new Date().toISOString()} (held ${f.holdMs} ms)`);
  switch (f.kind) {
    case 'kill-primary':
      r.target = primary;
      lab.kill(primary);
      await sleep(f.holdMs);
      return;
    case 'freeze-primary':
      r.target = primary;
      lab.freeze(primary);
      await sleep(f.holdMs);
      lab.thaw(primary);
      return;
    case 'partition-primary':
      r.target = primary;
      lab.partitions.partition(primary, 'all');
      await sleep(f.holdMs);
      lab.partitions.heal(primary);
      return;
    case 'kill-standby':
      if (!standby) throw new Error('no standby');
      r.target = standby;
      lab.kill(standby);
      await sleep(f.holdMs);
      return;
    case 'kill-pgpool': {
      r.target = pool.name;
      const pid = pgpoolPid(lab, pool.name);
      if (pid) process.kill(-pid, 'SIGKILL'); // its process group: the main process and its children
      await sleep(f.holdMs);
      return;
    }
    case 'restart-control-plane':
      r.target = 'control';
      await lab.restartControlPlane();
      return;
    case 'trigger-storm': {
      // Every sensor at once, several times, about one failure: one failover must come of it.
      r.target = primary;
      lab.kill(primary);
      const ec2 = {
        source: 'aws.ec2',
        'detail-type': 'EC2 Instance State-change Notification',
        detail: { 'instance-id': `lab:${primary}`, state: 'stopped' },
      };
      await Promise.all([
        ...Array.from({ length: 4 }, () => api('/v1/failover', { reason: 'soak: trigger storm', wait: false })),
        ...Array.from({ length: 4 }, () => api('/v1/events', { ...ec2, time: new Date().toISOString() })),
      ]);
      await sleep(f.holdMs);
      return;
    }
    case 'switchover-mid-fault':
      // A standby frozen while a switchover starts.
      if (!standby) throw new Error('no standby');
      r.target = standby;
      lab.freeze(standby);
      r.note = `switchover: ${JSON.stringify(await api('/v1/switchover', { wait: false })).slice(0, 160)}`;
      await sleep(f.holdMs);
      lab.thaw(standby);
      return;
    case 'rejoin-mid-fault':
      // The primary killed while a rejoin of a standby starts.
      if (!standby) throw new Error('no standby');
      r.target = `${primary}, rejoin ${standby}`;
      lab.kill(primary);
      r.note = `rejoin: ${JSON.stringify(await api('/v1/rejoin', { node: standby, wait: false })).slice(0, 160)}`;
      await sleep(f.holdMs);
      return;
  }
}

/** The running pgpool's pid (its pid file ends in a NUL byte: read by readPid, which strips it). */
function pgpoolPid(lab: Lab, name: string): number | undefined {
  const pid = readPid(`${lab.pgpoolDir(name)}/run/pgpool.pid`);
  return pid && isAlive(pid) ? pid : undefined;
}

/**
 * What a cloud gives back by itself (a crashed instance or pgpool host comes back), once no workflow
 * is running; then wait for pgwarden to make the cluster whole. Returns why it is not, or undefined.
 */
async function recover(lab: Lab, bound: number): Promise<{ why?: string; wholeAt?: number }> {
  const deadline = Date.now() + bound;
  let last = 'not checked';
  // Whole for a while, not for one look: a pgpool may still be about to detach a node it could not
  // reach during the fault (its health check: period, timeout, one retry).
  const steadyMs = 3000;
  let wholeSince: number | undefined;
  while (Date.now() < deadline) {
    if (!(await lab.apiHealthy())) {
      last = 'control plane down';
      await sleep(500);
      continue;
    }
    const running = (await executions(lab).catch(() => [])).filter((e) => e.status === 'RUNNING');
    if (running.length === 0) {
      for (const p of lab.config().pgpools) {
        if (!pgpoolPid(lab, p.name)) await lab.script(p.name, 'pgpool-start');
      }
      for (const n of lab.config().nodes) {
        if (!lab.postmasterPid(n.name) && lab.nodeProcesses(n.name).length === 0)
          await lab.start(n.name).catch(() => undefined);
      }
    }
    const s = await lab.status().catch(() => undefined);
    const why = s ? whole(s, lab.readTopology()) : 'status unavailable';
    if (!why && running.length === 0) {
      wholeSince ??= Date.now();
      if (Date.now() - wholeSince >= steadyMs) return { wholeAt: wholeSince };
      await sleep(250);
      continue;
    }
    wholeSince = undefined;
    last = why ?? `executions still running: ${running.map((e) => e.name).join(', ')}`;
    await sleep(500);
  }
  return { why: last };
}

export function renderSoak(r: SoakResult): string {
  const lines = [
    `soak: seed ${r.seed} (replay: npm run soak -- --seed ${r.seed} --faults ${r.schedule.length})`,
    'schedule:',
    ...r.results.map(
      (x) =>
        `  ${String(x.n).padStart(3)} ${x.kind.padEnd(22)} ${(x.target ?? '').padEnd(16)} hold ${x.holdMs} ms  ${x.recovered ? `whole again in ${x.recoveryMs} ms (steady 3 s)` : 'NOT RECOVERED'}, write gap ${x.longestWriteGapMs} ms${x.note ? `  (${x.note})` : ''}`,
    ),
    ...r.schedule.slice(r.results.length).map((x) => `  ${String(x.n).padStart(3)} ${x.kind.padEnd(22)} not run`),
    `faults survived: ${r.faultsSurvived} of ${r.schedule.length}`,
    `writes: ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.clientErrors} client errors; longest write gap ${r.longestWriteGapMs} ms`,
    `two writable primaries routed to: ${r.violations.length ? r.violations.join('; ') : 'never'}`,
    `executions: ${Object.entries(r.executions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}${r.unfinishedExecutions.length ? `; still running: ${r.unfinishedExecutions.join(', ')}` : ''}`,
    r.ok ? 'soak passed' : 'soak FAILED',
  ];
  return lines.join('\n');
}

/** `pgwarden soak [--seed N] [--faults N] [--json] [--keep]`: a lab of its own, brought down afterwards. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        faults: { type: 'string' },
        json: { type: 'boolean' },
        keep: { type: 'boolean' },
        'port-base': { type: 'string' },
      },
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const values = parsed.values;
  const num = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
  const seed = num(values.seed as string | undefined, 'seed', Date.now() % 1_000_000);
  const faults = num(values.faults as string | undefined, 'faults', 10);
  if (faults < 1 || faults > 1000) throw new UsageError(`--faults must be 1..1000, got ${faults}`);
  const lab = new Lab({
    dir: `${defaultLabDir()}-soak`,
    portBase: num(values['port-base'] as string | undefined, 'port-base', 25532),
    pgpools: 2,
  });
  await lab.down({ purge: true });
  await lab.up();
  try {
    const r = await soak(lab, { seed, faults, log: (m) => console.error(m) });
    console.log(values.json ? JSON.stringify(r, null, 2) : renderSoak(r));
    return r.ok ? 0 : 1;
  } finally {
    if (!values.keep) await lab.down({ purge: true });
  }
}
