/**
 * What the operator (and the app's dashboard) reads about Step Functions executions: an execution's
 * status, its steps from the execution history (GetExecutionHistory, paginated, polled while it runs),
 * recent executions. Finding the cluster's state machines by name is sfn-state-machines.ts (it needs
 * ListStateMachines on every state machine of the account, which the dashboard's role does not get).
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { WORKFLOWS } from '../env';
import type { WorkflowName } from '../ports';

/** workflow -> state machine ARN (the same shape as PGWARDEN_STATE_MACHINE_ARNS). Not imported from
 * sfn-workflow-starter.ts: a reader of executions must not reach StartExecution (handler-ports.js). */
export type StateMachineArns = Partial<Record<WorkflowName, string>>;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

/** One finished step (state) of an execution. */
export interface StepView {
  state: string;
  durationMs?: number;
  attempts: number;
  error?: string;
  /** From the execution's start to the step's start (StepTracker with `offsets`). */
  offsetMs?: number;
}

export interface ExecutionView {
  name: string;
  arn: string;
  workflow: string;
  status: ExecutionStatus;
  startedAt: string;
  durationMs?: number;
  error?: { Error: string; Cause: string };
  output?: unknown;
  steps?: StepView[];
}

const TERMINAL = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionAborted', 'ExecutionTimedOut']);

/**
 * Turns history events, fed in order (page after page), into finished steps. Every event names its
 * predecessor (previousEventId): following that chain from a StateEntered event attributes Lambda
 * attempts and failures to their state, Parallel branches included.
 */
export class StepTracker {
  private readonly stateOf = new Map<number, string>();
  private readonly open = new Map<string, { at: number; attempts: number; error?: string }>();
  lastEventId = 0;
  ended?: string;
  private startedAt?: number;

  /** offsets: also report each step's offsetMs from the execution's first event (for a timeline). */
  constructor(private readonly opts: { offsets?: boolean } = {}) {}

  feed(events: HistoryEvent[]): StepView[] {
    const out: StepView[] = [];
    for (const e of events) {
      const id = e.id ?? 0;
      if (id <= this.lastEventId) continue; // a page read again while polling
      this.lastEventId = id;
      const at = e.timestamp ? new Date(e.timestamp).getTime() : 0;
      this.startedAt ??= at;
      const entered = e.stateEnteredEventDetails?.name;
      const name = entered ?? this.stateOf.get(e.previousEventId ?? -1);
      if (name) this.stateOf.set(id, name);
      const type = e.type ?? '';
      if (entered) {
        this.open.set(entered, { at, attempts: 0 });
        // A Fail state has no exit event: it is finished when entered.
        if (type === 'FailStateEntered') out.push(this.close(entered, at));
      } else if (name && /(LambdaFunction|Task)Scheduled$/.test(type)) {
        const s = this.open.get(name);
        if (s) s.attempts++;
      } else if (name && /(LambdaFunction|Task)Succeeded$/.test(type)) {
        const s = this.open.get(name);
        if (s) delete s.error; // a retry succeeded: the attempts say it took more than one
      } else if (name && /(LambdaFunction|Task)(Failed|TimedOut|ScheduleFailed|StartFailed)$/.test(type)) {
        const s = this.open.get(name);
        const d =
          e.lambdaFunctionFailedEventDetails ??
          e.taskFailedEventDetails ??
          e.lambdaFunctionTimedOutEventDetails ??
          e.taskTimedOutEventDetails ??
          e.lambdaFunctionScheduleFailedEventDetails ??
          e.lambdaFunctionStartFailedEventDetails;
        if (s) s.error = `${d?.error ?? type}: ${d?.cause ?? ''}`.slice(0, 500);
      } else if (e.stateExitedEventDetails?.name) {
        out.push(this.close(e.stateExitedEventDetails.name, at));
      } else if (TERMINAL.has(type)) {
        this.ended = type;
        // States left open by a failure that no Catch handled.
        for (const open of [...this.open.keys()]) out.push(this.close(open, at));
      }
    }
    return out;
  }

  private close(state: string, at: number): StepView {
    const s = this.open.get(state) ?? { at, attempts: 0 };
    this.open.delete(state);
    return {
      state,
      durationMs: Math.max(0, at - s.at),
      attempts: Math.max(1, s.attempts),
      ...(s.error ? { error: s.error } : {}),
      ...(this.opts.offsets ? { offsetMs: Math.max(0, s.at - (this.startedAt ?? s.at)) } : {}),
    };
  }
}

export interface WatchOptions {
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class SfnExecutions {
  constructor(private readonly sfn: SFNClient) {}

  async describe(executionArn: string): Promise<ExecutionView> {
    const r = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const start = r.startDate ? new Date(r.startDate) : new Date(0);
    return {
      name: r.name ?? executionArn.split(':').pop()!,
      arn: executionArn,
      workflow: workflowOf(r.stateMachineArn ?? executionArn),
      status: (r.status ?? 'RUNNING') as ExecutionStatus,
      startedAt: start.toISOString(),
      ...(r.stopDate ? { durationMs: new Date(r.stopDate).getTime() - start.getTime() } : {}),
      ...(r.error || r.cause ? { error: { Error: r.error ?? 'Error', Cause: r.cause ?? '' } } : {}),
      ...(r.output ? { output: parseJson(r.output) } : {}),
    };
  }

  /**
   * Report each step as it finishes (polling GetExecutionHistory from the page last read) and return
   * the execution once it has ended.
   */
  async watch(executionArn: string, onStep: (s: StepView) => void, opts: WatchOptions = {}): Promise<ExecutionView> {
    const tracker = new StepTracker();
    const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let pageToken: string | undefined;
    for (;;) {
      const r = await this.sfn.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken: pageToken, maxResults: 1000 }),
      );
      for (const s of tracker.feed(r.events ?? [])) onStep(s);
      if (r.nextToken) {
        pageToken = r.nextToken; // more pages now: read on at once
        continue;
      }
      if (tracker.ended) return this.describe(executionArn);
      await sleep(opts.pollMs ?? 1000);
    }
  }

  /** Every step of an execution, from its whole history (with offsetMs from its start when asked). */
  async steps(executionArn: string, opts: { offsets?: boolean } = {}): Promise<StepView[]> {
    const tracker = new StepTracker(opts);
    const out: StepView[] = [];
    let nextToken: string | undefined;
    do {
      const r = await this.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }));
      out.push(...tracker.feed(r.events ?? []));
      nextToken = r.nextToken;
    } while (nextToken);
    return out;
  }

  /** The most recent executions of the given state machines, newest first. */
  async recent(stateMachines: StateMachineArns, max: number): Promise<ExecutionView[]> {
    const all: ExecutionView[] = [];
    for (const [wf, arn] of Object.entries(stateMachines)) {
      const r = await this.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: max }));
      for (const e of r.executions ?? []) {
        const start = e.startDate ? new Date(e.startDate) : new Date(0);
        all.push({
          name: e.name ?? '',
          arn: e.executionArn ?? '',
          workflow: wf,
          status: (e.status ?? 'RUNNING') as ExecutionStatus,
          startedAt: start.toISOString(),
          ...(e.stopDate ? { durationMs: new Date(e.stopDate).getTime() - start.getTime() } : {}),
        });
      }
    }
    return all.sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, max);
  }
}

/** arn:...:stateMachine:pgwarden-<cluster>-<workflow> or arn:...:execution:pgwarden-<cluster>-<workflow>:<name> */
function workflowOf(arn: string): WorkflowName | string {
  const parts = arn.split(':');
  const machine = parts[5] === 'execution' || parts[5] === 'stateMachine' ? parts[6] : '';
  return [...WORKFLOWS].sort((a, b) => b.length - a.length).find((w) => machine?.endsWith(`-${w}`)) ?? machine;
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
