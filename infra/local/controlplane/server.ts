/**
 * The lab's control plane (loopback HTTP API): hosts what AWS hosts — the event bus and its rules,
 * the prober and alarm evaluator, the process supervisor, the workflow runner, the metric store and
 * the notifications — and the API the CLI, drills, tests and dashboard use.
 */
import type { Server } from 'node:http';
import type { Deps } from '../../../functions/lib/ports';
import { settings } from '../../../functions/lib/settings';
import { InvalidEventError } from '../../../functions/triggers/common';
import * as operator from '../../../functions/triggers/operator';
import * as pgpoolHook from '../../../functions/triggers/pgpool-hook';
import { LabNotifier, labDeps, MetricStore, notificationsFile } from '../adapters';
import { LambdaSim, ms, sleep } from '../aws-sim';
import type { Lab } from '../lab';
import { LocalRunner } from '../runner';
import { createApiServer, ensureApiToken, HttpError } from './guard';
import { EventBus, Monitor, Supervisor, type BusEvent, type SensorSwitches } from './sensors';
import { latestDigest } from './digest-route';
import { TraceCollector } from './xray-collector';

export { HttpError };

type Route = (body: unknown, url: URL, id?: string) => Promise<unknown>;

export { RawBody } from './guard';

export class ControlPlane {
  private server?: Server;
  private readonly routes = new Map<string, Route>();
  readonly metrics = new MetricStore();
  readonly traces = new TraceCollector();
  readonly notifier: LabNotifier;
  readonly runner: LocalRunner;
  readonly switches: SensorSwitches = { pgpool: true, alarm: true, ec2: true, heal: settings().heal };
  readonly bus: EventBus;
  readonly monitor: Monitor;
  readonly supervisor: Supervisor;
  readonly deps: () => Deps;
  readonly lambdaSim?: LambdaSim;

  constructor(readonly lab: Lab) {
    this.notifier = new LabNotifier(notificationsFile(lab));
    let d: Deps | undefined;
    this.deps = () => (d ??= labDeps(lab, this.runner, this.metrics, this.notifier));
    const sim = lab.config().profile.name === 'aws-sim' ? new LambdaSim() : undefined;
    this.lambdaSim = sim;
    this.runner = new LocalRunner(this.deps, {
      // aws-sim: the ASL's own retry intervals, as in AWS.
      retryIntervalMs: sim ? undefined : 200,
      log: (m) => lab.log(m),
      lambdaSim: sim,
    });
    this.bus = new EventBus(this.deps, this.switches, sim);
    this.monitor = new Monitor(lab, this.deps, this.metrics, this.bus, this.switches);
    this.supervisor = new Supervisor(lab, this.bus);

    this.route('GET /v1/health', async () => ({ ok: true, dir: this.lab.dir, pid: process.pid }));
    this.route('GET /v1/status', async () => ({
      ...(await this.lab.status()),
      alarms: this.monitor.alarmStates(),
      sensors: this.switches,
      executions: [...this.runner.executions.values()].slice(-10).map((e) => this.runner.summary(e)),
    }));
    this.route('GET /v1/topology', async () => this.lab.readTopology());
    this.route('POST /v1/events', async (body) => {
      if (!isEvent(body)) throw new HttpError(400, 'an event needs source, detail-type and detail');
      return this.bus.put(body);
    });
    this.route('POST /v1/triggers/pgpool', async (body, url) => {
      if (!this.switches.pgpool) return { action: 'ignored', reason: 'sensor pgpool is switched off' };
      // aws-sim: pgpool's hook runs `aws lambda invoke` of the pgpool-hook Lambda.
      if (this.lambdaSim) {
        await sleep(ms('pgpoolHookCli'));
        await this.lambdaSim.invoke('PgpoolHook');
      }
      const r = await pgpoolHook.handle(body, this.deps());
      // pgpool waits in its failover_command until the workflow has promoted (or decided not to),
      // so that its own search for the primary finds the new one at once.
      // A standby's failure needs no search for the primary: pgpool goes on at once.
      if (url.searchParams.get('wait') && 'executionName' in r && r.suspect === this.lab.readTopology().primary)
        await this.runner.waitFor(r.executionName, 'PromoteCandidate', 60_000);
      return r;
    });
    this.route('POST /v1/failover', async (body) => this.operator({ ...(body as object), action: 'failover' }));
    this.route('POST /v1/pause', async (body) => {
      await this.operator({ ...(body as object), action: 'pause' });
      return { paused: true };
    });
    this.route('POST /v1/resume', async (body) => {
      await this.operator({ ...(body as object), action: 'resume' });
      return { paused: false };
    });
    this.route('GET /v1/executions', async () => ({
      executions: [...this.runner.executions.values()].map((e) => this.runner.summary(e)),
    }));
    this.route('GET /v1/executions/:id', async (_b, url, id) => {
      const e = this.runner.executions.get(id!);
      if (!e) throw new HttpError(404, `no execution ${id}`);
      const wait = Math.min(Number(url.searchParams.get('waitMs') ?? 0), 120_000);
      const after = url.searchParams.get('after');
      // ?after=N: answer once more than N steps have finished (the CLI streams steps this way).
      if (wait > 0 && after !== null) await this.runner.waitForSteps(e.name, Number(after), wait);
      else if (wait > 0) await this.runner.waitFor(e.name, null, wait);
      return this.runner.summary(e);
    });
    // --dry-run of an operator command: the trigger and the first step against throw-away ports.
    this.route('POST /v1/dry-run', async (body) => operator.handle({ ...(body as object), dryRun: true }, this.deps()));
    this.route('POST /v1/faults', async (body) => {
      const b = body as { state?: unknown; times?: unknown };
      if (typeof b?.state !== 'string' || typeof b.times !== 'number')
        throw new HttpError(400, 'a fault needs state (string) and times (number)');
      this.runner.injectFault({ state: b.state, times: b.times });
      return { injected: b };
    });
    this.route('POST /v1/sensors', async (body) => {
      const b = (body ?? {}) as Partial<Record<keyof SensorSwitches, unknown>>;
      for (const k of Object.keys(b)) {
        if (!(k in this.switches) || typeof b[k as keyof SensorSwitches] !== 'boolean')
          throw new HttpError(400, `unknown sensor switch ${k}`);
      }
      Object.assign(this.switches, b);
      return this.switches;
    });
    // Switchover, rejoin, maintenance and scaling: their routes live beside their workflows.
    (require('./workflow-routes') as { register(cp: ControlPlane): void }).register(this);
    // The metrics round, the current values and the Prometheus endpoint.
    (require('./observability') as { register(cp: ControlPlane): void }).register(this);
    this.route('GET /v1/notifications', async () => ({ notifications: this.notifier.sent }));
    this.route('GET /v1/events', async () => ({ events: this.bus.log }));
    this.route('GET /v1/metrics', async (_b, url) => {
      const name = url.searchParams.get('name');
      const out = [...this.metrics.series.values()].filter((s) => !name || s.name === name);
      return { series: out.map((s) => ({ ...s, samples: s.samples.slice(-600) })) };
    });
    this.route('GET /v1/traces', async (_b, url) => {
      const limit = Number(url.searchParams.get('limit') ?? 20);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new HttpError(400, 'limit must be 1..500');
      return { traces: this.traces.recent(limit), received: this.traces.received };
    });
    const digest = latestDigest(this.lab);
    this.route('GET /v1/digest', async () => digest());
    this.route('GET /v1/traces/:id', async (_b, _url, id) => {
      const t = this.traces.get(id!);
      if (!t) throw new HttpError(404, `no trace ${id}`);
      return t;
    });
  }

  private async operator(body: unknown) {
    const b = body as { wait?: boolean };
    const r = await operator.handle(body, this.deps());
    if (b.wait && 'executionName' in r) {
      const rec = await this.runner.waitFor(r.executionName, null, 120_000);
      return { ...r, execution: rec ? this.runner.summary(rec) : undefined };
    }
    return r;
  }

  route(key: string, fn: Route): void {
    this.routes.set(key, fn);
  }

  async start(): Promise<void> {
    const port = this.lab.config().apiPort;
    this.server = createApiServer({
      token: ensureApiToken(this.lab.controlDir),
      port,
      dispatch: (method, url, body) => this.dispatch(method, url, body),
      statusOf: (e) => (e instanceof InvalidEventError ? 400 : 500),
      log: (m) => this.lab.log(m),
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    await this.traces.start(this.lab.config().xrayPort);
    this.runner.warm(['failover', 'switchover', 'rejoin', 'maintenance']);
    this.monitor.start();
    this.supervisor.start();
    this.lab.log(`control plane listening on http://127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    this.monitor.stop();
    this.supervisor.stop();
    await this.traces.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** An admitted request (guard.ts checked token, host, content type and size) to its route. */
  private async dispatch(method: string, url: URL, body: unknown): Promise<unknown> {
    const key = `${method} ${url.pathname}`;
    let route = this.routes.get(key);
    let id: string | undefined;
    if (!route) {
      const i = key.lastIndexOf('/');
      route = this.routes.get(`${key.slice(0, i)}/:id`);
      id = decodeURIComponent(key.slice(i + 1));
    }
    if (!route) throw new HttpError(404, `no route ${key}`);
    return route(body, url, id);
  }
}

function isEvent(b: unknown): b is BusEvent {
  const e = b as BusEvent;
  return (
    !!e &&
    typeof e === 'object' &&
    typeof e.source === 'string' &&
    typeof e['detail-type'] === 'string' &&
    typeof e.detail === 'object'
  );
}
