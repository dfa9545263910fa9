/** The lab as an operator target: every verb is a call to its control plane's HTTP API. */
import type { Topology } from '../../../functions/lib/topology';
import {
  Refusal,
  TargetError,
  type DryRunResult,
  type ExecutionView,
  type OperatorRequest,
  type OperatorTarget,
  type Started,
  type StatusView,
  type StepView,
} from './target';

/** The lab's execution summary (infra/local/runner.ts summary()). */
interface LabExecution {
  name: string;
  arn: string;
  workflow: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startedAt: string;
  durationMs: number;
  output?: unknown;
  error?: { Error: string; Cause: string };
  steps: { state: string; durationMs?: number; attempts: number; error?: string }[];
}

/** A request the API rejected as malformed (HTTP 400): nothing changed. */
export class InvalidRequest extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'InvalidRequest';
  }
}

export class LabTarget implements OperatorTarget {
  constructor(readonly apiUrl: string) {}

  get label(): string {
    return `the lab (${this.apiUrl})`;
  }

  private async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    let r: Response;
    try {
      r = await fetch(`${this.apiUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new TargetError(`the lab's control plane is not reachable at ${this.apiUrl} (run: pgwarden lab up)`);
    }
    const j = (await r.json()) as T & { error?: string };
    if (r.status === 409) throw new Refusal(String(j.error));
    if (r.status === 400) throw new InvalidRequest(String(j.error));
    if (!r.ok) throw new TargetError(String(j.error ?? r.statusText));
    return j;
  }

  async start(req: OperatorRequest): Promise<Started> {
    const { action, ...body } = req;
    const r = await this.api<{ action: string; workflow?: string; executionName: string; executionArn: string }>(
      'POST',
      `/v1/${action}`,
      body,
    );
    return {
      workflow: r.workflow ?? action,
      executionName: r.executionName,
      executionArn: r.executionArn,
      started: r.action !== 'collapsed',
    };
  }

  dryRun(req: OperatorRequest): Promise<DryRunResult> {
    return this.api<DryRunResult>('POST', '/v1/dry-run', req);
  }

  async watch(s: Started, onStep: (step: StepView) => void): Promise<ExecutionView> {
    const shown = new Set<number>();
    for (;;) {
      const e = await this.api<LabExecution>(
        'GET',
        `/v1/executions/${encodeURIComponent(s.executionName)}?after=${shown.size}&waitMs=30000`,
      );
      e.steps.forEach((st, i) => {
        if (st.durationMs === undefined || shown.has(i)) return;
        shown.add(i);
        onStep(step(st));
      });
      if (e.status !== 'RUNNING') return view(e);
    }
  }

  async execution(name: string): Promise<ExecutionView> {
    const e = await this.api<LabExecution>('GET', `/v1/executions/${encodeURIComponent(name)}`).catch((err) => {
      throw /no execution/.test((err as Error).message) ? new InvalidRequest(`no execution named ${name}`) : err;
    });
    return view(e);
  }

  async history(limit: number): Promise<ExecutionView[]> {
    const r = await this.api<{ executions: LabExecution[] }>('GET', '/v1/executions');
    return r.executions.slice(-limit).reverse().map(view);
  }

  async status(): Promise<StatusView> {
    const [t, s] = await Promise.all([
      this.api<Topology>('GET', '/v1/topology'),
      this.api<{ alarms: Record<string, string>; executions: LabExecution[] }>('GET', '/v1/status'),
    ]);
    return {
      target: this.label,
      ...topologyView(t),
      alarms: Object.entries(s.alarms ?? {}).map(([name, state]) => ({ name, state, reason: '' })),
      executions: s.executions
        .slice()
        .reverse()
        .map((e) => ({ ...view(e), steps: undefined })),
    };
  }

  async setPaused(paused: boolean, reason: string): Promise<void> {
    await this.api('POST', paused ? '/v1/pause' : '/v1/resume', { reason });
  }
}

export function topologyView(t: Topology): Omit<StatusView, 'target' | 'alarms' | 'executions'> {
  const leaseLive = t.lease && Date.parse(t.lease.expiresAt) > Date.now();
  return {
    cluster: t.cluster,
    primary: t.primary,
    timeline: t.timeline,
    paused: t.paused,
    ...(t.pausedReason ? { pausedReason: t.pausedReason } : {}),
    ...(leaseLive
      ? { lease: { workflow: t.lease!.workflow, execution: t.lease!.execution, expiresAt: t.lease!.expiresAt } }
      : {}),
    nodes: t.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      host: n.host,
      port: n.port,
      ...(n.maintenance ? { maintenance: true } : {}),
    })),
  };
}

function step(s: LabExecution['steps'][number]): StepView {
  return { state: s.state, durationMs: s.durationMs, attempts: s.attempts, ...(s.error ? { error: s.error } : {}) };
}

function view(e: LabExecution): ExecutionView {
  return {
    name: e.name,
    arn: e.arn,
    workflow: e.workflow,
    status: e.status,
    startedAt: e.startedAt,
    ...(e.status !== 'RUNNING' ? { durationMs: e.durationMs } : {}),
    ...(e.error ? { error: e.error } : {}),
    ...(e.output !== undefined ? { output: e.output } : {}),
    steps: e.steps.filter((s) => s.durationMs !== undefined).map(step),
  };
}
