/**
 * The lab's sensors, standing in for AWS: the prober (scheduled Lambda), the alarm evaluator
 * (CloudWatch alarms over the metric store, same definitions as infra/aws), the process supervisor
 * (EC2 instance state-change events) and the event bus with the same rules as serverless.yml.
 */
import { ALARMS, alarmName, type AlarmDefinition } from '../../../functions/lib/alarms';
import type { Deps } from '../../../functions/lib/ports';
import { settings } from '../../../functions/lib/settings';
import { BackgroundHeal } from '../../../functions/probe/heal';
import { probeCluster } from '../../../functions/probe/probe';
import { PrimaryWatch } from '../../../functions/probe/watch';
import { FailoverRearm } from '../../../functions/probe/rearm';
import * as alarmTrigger from '../../../functions/triggers/alarm';
import * as ec2Trigger from '../../../functions/triggers/ec2-state';
import type { MetricStore } from '../adapters';
import { ms, sleep, type LambdaSim } from '../aws-sim';
import type { Lab } from '../lab';
import eventRules from '../../../functions/triggers/event-rules.json';
import { alarmEvent, ec2Event, type BusEvent } from './events';

export interface SensorSwitches {
  pgpool: boolean;
  alarm: boolean;
  ec2: boolean;
  /** The prober re-attaches a standby a pgpool detached while it streams (functions/probe/heal.ts). */
  heal: boolean;
}

/** An EventBridge event pattern: exact values (one of a list), nested objects, "{placeholder}" (any value here). */
type Pattern = { [field: string]: string | (string | number | boolean)[] | Pattern };

interface Rule {
  name: string;
  /** The serverless.yml function the rule invokes in AWS. */
  function: string;
  pattern: Pattern;
  sensor: keyof SensorSwitches;
  target: (event: unknown, deps: Deps) => Promise<unknown>;
}

/** The lab's side of each rule's target function: the switch that stands for its sensor, its trigger. */
const TARGETS: Record<string, Pick<Rule, 'sensor' | 'target'>> = {
  alarmTrigger: { sensor: 'alarm', target: alarmTrigger.handle },
  ec2StateTrigger: { sensor: 'ec2', target: ec2Trigger.handle },
};

/** The EventBridge rules of serverless.yml, for the lab's bus: functions/triggers/event-rules.json. */
export const RULES: Rule[] = eventRules.rules.map((r) => {
  const t = TARGETS[r.function];
  if (!t) throw new Error(`event-rules.json: rule ${r.name} invokes ${r.function}, which the lab's bus does not know`);
  return { name: r.name, function: r.function, pattern: r.pattern as unknown as Pattern, ...t };
});

/**
 * Whether `event` matches `pattern` as EventBridge matches it: every listed field of the pattern is in
 * the event with one of the listed values (for an array in the event, any of its elements). A
 * "{placeholder}" (the cluster's own resources in AWS) matches any value, and none: the lab's events come
 * from its own alarms and instances only, and the bus has always routed on source and detail-type alone.
 */
export function matches(pattern: Pattern, event: unknown): boolean {
  const fields = typeof event === 'object' && event !== null ? (event as Record<string, unknown>) : {};
  return Object.entries(pattern).every(([field, p]) => {
    const v = fields[field];
    if (typeof p === 'string') return true;
    if (Array.isArray(p)) return (Array.isArray(v) ? v : [v]).some((x) => p.includes(x as string));
    return matches(p, v);
  });
}

export class EventBus {
  readonly log: { at: string; event: BusEvent; rule?: string; result?: unknown; error?: string }[] = [];
  constructor(
    private readonly deps: () => Deps,
    private readonly switches: SensorSwitches,
    /** Profile aws-sim: the event's way to its Lambda target takes as long as in AWS. */
    private readonly lambdaSim?: LambdaSim,
  ) {}

  async put(event: BusEvent): Promise<{ rule: string | null; result?: unknown; error?: string }> {
    const rule = RULES.find((r) => matches(r.pattern, event));
    const entry: (typeof this.log)[number] = { at: new Date().toISOString(), event, rule: rule?.name };
    this.log.push(entry);
    if (this.log.length > 200) this.log.shift();
    if (!rule) return { rule: null };
    if (!this.switches[rule.sensor]) {
      entry.result = { action: 'ignored', reason: `sensor ${rule.sensor} is switched off` };
      return { rule: rule.name, result: entry.result };
    }
    try {
      if (this.lambdaSim) {
        await sleep(
          (event.source === 'aws.cloudwatch' ? ms('alarmToEventBridge') : ms('ec2Event')) + ms('eventBridgeToLambda'),
        );
        await this.lambdaSim.invoke(rule.name);
      }
      entry.result = await rule.target(event, this.deps());
      return { rule: rule.name, result: entry.result };
    } catch (e) {
      entry.error = (e as Error).message;
      return { rule: rule.name, error: entry.error };
    }
  }
}

/**
 * Runs the prober every probeIntervalMs, and at once when the session it holds to the primary ends
 * (PrimaryWatch), and the alarm evaluator every alarm period, and also on each datapoint put when the
 * profile says so (alarmEvaluation 'datapoint'). Evaluations run one at a time, so that one state
 * change makes one event.
 */
export class Monitor {
  private timers: NodeJS.Timeout[] = [];
  private states = new Map<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>();
  private evaluations: Promise<void> = Promise.resolve();
  private probing = false;
  /** A round asked for while one ran (the watch's session ended): it runs as soon as that one ends. */
  private again = false;
  private lastHeal = 0;
  private readonly heal = new BackgroundHeal();
  private readonly watch = new PrimaryWatch((node) => {
    this.lab.log(`prober: the session held to ${node} ended; probing now`);
    void this.probe(true);
  });
  private readonly rearm = settings().rearmAfterMs > 0 ? new FailoverRearm(settings().rearmAfterMs) : undefined;
  lastRound?: Awaited<ReturnType<typeof probeCluster>>;

  constructor(
    private readonly lab: Lab,
    private readonly deps: () => Deps,
    private readonly metrics: MetricStore,
    private readonly bus: EventBus,
    private readonly switches: SensorSwitches,
  ) {}

  start(): void {
    const p = this.lab.config().profile;
    if (p.alarmEvaluation === 'datapoint') this.metrics.onPut = () => void this.evaluate();
    void this.probe(); // the first round now: its datapoints, and the watch's session, from the start
    this.timers.push(setInterval(() => void this.probe(), p.probeIntervalMs));
    this.timers.push(setInterval(() => void this.evaluate(), p.alarmPeriodS * 1000));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.watch.close();
  }

  /** One round; `now`: the primary's held session ended, a round runs even if one is under way. */
  private async probe(now = false): Promise<void> {
    if (this.probing) {
      if (now) this.again = true;
      return;
    }
    this.probing = true;
    try {
      const round = await probeCluster(this.deps());
      this.lastRound = round;
      void this.watch.follow(this.deps(), round.primary, round.primaryWritable, settings().probeTimeoutMs);
      if (this.switches.alarm && this.rearm) {
        const r = await this.rearm.check(this.deps(), round);
        if (r && r.action !== 'ignored') this.lab.log(`prober: failover ${r.action} (${r.executionName})`);
      }
      // Like the probe Lambda, but every few rounds: each check asks every pgpool for its view, beside
      // the next rounds (BackgroundHeal).
      const every = this.lab.config().profile.healIntervalMs ?? 2000;
      if (round.primaryWritable && this.switches.heal && !this.heal.busy && Date.now() - this.lastHeal >= every) {
        this.lastHeal = Date.now();
        this.heal.start(
          this.deps(),
          round.streaming,
          (outcomes) => {
            for (const h of outcomes)
              if (h.action === 'started') this.lab.log(`heal: ${h.reason} (${h.executionName})`);
          },
          (e) => this.lab.log(`heal check failed: ${e.message}`),
        );
      }
    } catch (e) {
      this.lab.log(`probe failed: ${(e as Error).message}`);
    } finally {
      this.probing = false;
      if (this.again) {
        this.again = false;
        void this.probe();
      }
    }
  }

  alarmStates(): Record<string, string> {
    return Object.fromEntries(this.states);
  }

  private evaluate(): Promise<void> {
    this.evaluations = this.evaluations
      .then(() => this.evaluateOnce())
      .catch((e: Error) => this.lab.log(`alarm evaluation failed: ${e.message}`));
    return this.evaluations;
  }

  private async evaluateOnce(): Promise<void> {
    const cluster = this.lab.config().cluster;
    const periodMs = this.lab.config().profile.alarmPeriodS * 1000;
    // Profile aws-sim: a datapoint reaches the evaluation only after CloudWatch's ingestion delay.
    // (+1: a window ends before its end; a datapoint put this millisecond is in the last one.)
    const now = Date.now() + 1 - (this.lab.config().profile.name === 'aws-sim' ? ms('metricIngestion') : 0);
    for (const a of ALARMS) {
      const name = alarmName(cluster, a);
      const breaching = [];
      const dims = Object.fromEntries(
        Object.entries(a.dimensions ?? { Cluster: '{cluster}' }).map(([k, v]) => [k, v.replace('{cluster}', cluster)]),
      );
      for (let i = 0; i < a.evaluationPeriods; i++) {
        const values = this.metrics.window(a.metric, dims, now - (i + 1) * periodMs, now - i * periodMs);
        breaching.push(values.length ? breaches(a, stat(a, values)) : a.treatMissingData === 'breaching');
      }
      // M out of N: ALARM when at least datapointsToAlarm of the last evaluationPeriods breach.
      const next = breaching.filter(Boolean).length >= (a.datapointsToAlarm ?? a.evaluationPeriods) ? 'ALARM' : 'OK';
      const prev = this.states.get(name) ?? 'INSUFFICIENT_DATA';
      if (next === prev) continue;
      this.states.set(name, next);
      if (prev === 'INSUFFICIENT_DATA' && next === 'OK') continue;
      this.lab.log(`alarm ${name}: ${prev} -> ${next}`);
      await this.bus.put(alarmEvent(name, a, cluster, dims, prev, next));
    }
  }
}

function stat(a: AlarmDefinition, v: number[]): number {
  switch (a.statistic) {
    case 'Minimum':
      return Math.min(...v);
    case 'Maximum':
      return Math.max(...v);
    case 'Sum':
      return v.reduce((x, y) => x + y, 0);
    default:
      return v.reduce((x, y) => x + y, 0) / v.length;
  }
}

function breaches(a: AlarmDefinition, x: number): boolean {
  if (a.comparison === 'LessThanThreshold') return x < a.threshold;
  if (a.comparison === 'LessThanOrEqualToThreshold') return x <= a.threshold;
  if (a.comparison === 'GreaterThanThreshold') return x > a.threshold;
  return x >= a.threshold;
}

/** EC2 stand-in: a node's "instance" is its postmaster; its exit and return become state-change events. */
export class Supervisor {
  private timer?: NodeJS.Timeout;
  private running = new Map<string, boolean>();
  private appeared = new Map<string, number>();
  private ticking = false;

  /**
   * A node's "instance" is reported running once its postmaster has accepted connections for
   * `settleMs` (as EC2 reports an instance once it has booted), so that whoever is starting it
   * finishes first; stopped is reported at once.
   */
  constructor(
    private readonly lab: Lab,
    private readonly bus: EventBus,
    private readonly settleMs = 1000,
  ) {}

  start(): void {
    for (const n of this.lab.config().nodes) {
      const alive = !!this.lab.postmasterPid(n.name);
      this.running.set(n.name, alive);
      if (alive) this.appeared.set(n.name, Date.now() - this.settleMs);
    }
    this.timer = setInterval(() => void this.tick(), 100);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const n of this.lab.config().nodes) {
        const alive = !!this.lab.postmasterPid(n.name);
        if (!alive) this.appeared.delete(n.name);
        else if (!this.appeared.has(n.name) && this.lab.postmasterReady(n.name)) this.appeared.set(n.name, Date.now());
        const now = alive && this.appeared.has(n.name) && Date.now() - this.appeared.get(n.name)! >= this.settleMs;
        const before = this.running.get(n.name);
        if (before === now) continue;
        this.running.set(n.name, now);
        this.lab.log(`instance lab:${n.name} is ${now ? 'running' : 'stopped'}`);
        await this.bus.put(ec2Event(`lab:${n.name}`, now ? 'running' : 'stopped'));
      }
    } finally {
      this.ticking = false;
    }
  }
}
