/**
 * The lab's control plane (loopback HTTP API): hosts what AWS hosts — the event bus and its rules,
 * the prober and alarm evaluator, the process supervisor, the workflow runner, the metric store and
 * the notifications — and the API the CLI, drills, tests and dashboard use.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Deps } from '../../../functions/lib/ports';
import { settings } from '../../../functions/lib/settings';
import { InvalidEventError } from '../../../functions/triggers/common';
import { LabNotifier, labDeps, MetricStore, notificationsFile } from '../adapters';
import { LambdaSim } from '../aws-sim';
import type { Lab } from '../lab';
import { LocalRunner } from '../runner';
import { createApiServer, dispatchRoute, ensureApiToken, type Route } from './guard';
import { metricsRoutes, startMetricsRound } from './observability';
import { coreRoutes } from './routes';
import { EventBus, Monitor, Supervisor, type SensorSwitches } from './sensors';
import { workflowRoutes } from './workflow-routes';
import { TraceCollector } from './xray-collector';

export class ControlPlane {
  private server?: Server;
  private readonly routes: ReadonlyMap<string, Route>;
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
      journal: join(lab.controlDir, 'executions.jsonl'),
    });
    this.bus = new EventBus(this.deps, this.switches, sim);
    this.monitor = new Monitor(lab, this.deps, this.metrics, this.bus, this.switches);
    this.supervisor = new Supervisor(lab, this.bus);
    // The API as one table: the control plane's own routes, then those of the planned workflows
    // (switchover, rejoin, maintenance, scaling) and of the metrics round.
    this.routes = new Map(Object.entries({ ...coreRoutes(this), ...workflowRoutes(this), ...metricsRoutes(this) }));
    startMetricsRound(this);
  }

  async start(): Promise<void> {
    const port = this.lab.config().apiPort;
    this.server = createApiServer({
      token: ensureApiToken(this.lab.controlDir),
      port,
      // An admitted request (guard.ts checked token, host, content type and size) to its route.
      dispatch: (method, url, body) => dispatchRoute(this.routes, method, url, body),
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
}
