/**
 * The lab's Step Functions: the very ASL files of statemachines/, run by aws-local-stepfunctions,
 * each Task mapped to the step function of the Lambda its Resource names. Execution names are unique
 * as in Step Functions: starting an existing name returns the existing execution (started: false),
 * which is how duplicate triggers collapse into one workflow.
 */
import './polyfills';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { answerWarmup, isWarmup, type Warm } from '../../functions/lib/handler';
import type { Deps, StartResult, WorkflowName, WorkflowStarter } from '../../functions/lib/ports';
import { ms, sleep, type LambdaSim } from './aws-sim';
import { appendJournal, readJournal, type ExecutionSummary } from './execution-journal';
import { REPO_ROOT } from './lab';

export interface StepRecord {
  state: string;
  type: string;
  startedAt: number;
  endedAt?: number;
  durationMs?: number;
  attempts: number;
  error?: string;
}

export interface ExecutionRecord {
  name: string;
  arn: string;
  workflow: WorkflowName;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startedAt: string;
  startedAtMs: number;
  endedAtMs?: number;
  input: unknown;
  output?: unknown;
  error?: { Error: string; Cause: string };
  steps: StepRecord[];
  /** Named moments other parts wait for, e.g. 'PromoteCandidate' done. */
  passed: Set<string>;
  done: Promise<void>;
}

type StepFn = (input: unknown, deps: Deps) => Promise<unknown>;

const naming = require('../aws/naming') as {
  stepFunction(placeholder: string): { key: string; handler: string; logicalId: string } | undefined;
};

/**
 * `${FailoverReconfigurePgpoolFunctionArn}` -> functions/failover/reconfigure-pgpool.ts: the module of the
 * Lambda the AWS stack builds for that Resource (infra/aws/naming.js's stepFunction, the one mapping).
 */
export function moduleForResource(resource: string): { area: string; file: string; fn: string } {
  const m = /^\$\{([A-Z][A-Za-z0-9]*)FunctionArn\}$/.exec(resource);
  if (!m) throw new Error(`Task resource "${resource}" is not of the form \${<Area><Step>FunctionArn}`);
  const fn = naming.stepFunction(`${m[1]}FunctionArn`);
  const h = fn && /^functions\/([^/]+)\/(.+)\.handler$/.exec(fn.handler);
  if (!h) throw new Error(`cannot derive a module from ${resource}`);
  return { area: h[1], file: join(REPO_ROOT, 'functions', h[1], `${h[2]}.ts`), fn: m[1] };
}

/** Step Functions' own integration: start another workflow and wait for it (a nested execution). */
export const NESTED_EXECUTION = /^arn:aws:states:::states:startExecution\.sync(:2)?$/;

const stateMachineArn = (workflow: string) =>
  `arn:aws:states:us-east-1:000000000000:stateMachine:pgwarden-lab-${workflow}`;

/** `Switchover` -> switchover, `ScaleOut` -> scale-out (the workflows are the files in statemachines/). */
function workflowOfPascal(pascal: string): string {
  const w = pascal.replace(/[A-Z]/g, (c, i: number) => (i ? '-' : '') + c.toLowerCase());
  if (!existsSync(join(REPO_ROOT, 'statemachines', `${w}.asl.json`)))
    throw new Error(`\${${pascal}StateMachineArn} names no workflow in statemachines/`);
  return w;
}

interface TaskState {
  Type: string;
  Resource?: string;
  Branches?: { States: Record<string, TaskState> }[];
  Iterator?: { States: Record<string, TaskState> };
  ItemProcessor?: { States: Record<string, TaskState> };
}

function taskStates(states: Record<string, TaskState>, out: Record<string, string> = {}): Record<string, string> {
  for (const [name, s] of Object.entries(states)) {
    if (s.Type === 'Task' && s.Resource) out[name] = s.Resource;
    for (const b of s.Branches ?? []) taskStates(b.States, out);
    if (s.Iterator) taskStates(s.Iterator.States, out);
    if (s.ItemProcessor) taskStates(s.ItemProcessor.States, out);
  }
  return out;
}

export function loadDefinition(workflow: string): {
  definition: Record<string, unknown>;
  tasks: Record<string, string>;
} {
  const raw = readFileSync(join(REPO_ROOT, 'statemachines', `${workflow}.asl.json`), 'utf8');
  const original = JSON.parse(raw) as { States: Record<string, TaskState> };
  const tasks = taskStates(original.States);
  // Resources become placeholder Lambda ARNs, as DefinitionSubstitutions would make them in AWS.
  const substituted = raw
    .replace(
      /\$\{([A-Za-z0-9]+)FunctionArn\}/g,
      (_, n: string) => `arn:aws:lambda:us-east-1:000000000000:function:pgwarden-lab-${n}`,
    )
    .replace(/\$\{([A-Za-z0-9]+)StateMachineArn\}/g, (_, n: string) => stateMachineArn(workflowOfPascal(n)));
  return { definition: JSON.parse(substituted) as Record<string, unknown>, tasks };
}

export interface Fault {
  /** Task state name to fail. */
  state: string;
  /** How many times it fails before it works again. */
  times: number;
  message?: string;
}

export class LocalRunner implements WorkflowStarter {
  /** This process's executions (their names unique, as in Step Functions). */
  readonly executions = new Map<string, ExecutionRecord>();
  /** Executions of earlier control-plane processes, from the journal: for history only. */
  private readonly earlier: ExecutionSummary[] = [];
  private readonly faults: Fault[] = [];
  private readonly listeners = new Set<(e: ExecutionRecord, event: string) => void>();

  constructor(
    private readonly deps: () => Deps,
    private readonly opts: {
      retryIntervalMs?: number;
      log?: (m: string) => void;
      /** Profile aws-sim: Step Functions' start and transitions, Lambda cold/warm invokes are added. */
      lambdaSim?: LambdaSim;
      /** Where executions are recorded, so that history outlives this process (execution-journal.ts). */
      journal?: string;
    } = {},
  ) {
    if (opts.journal) {
      const j = readJournal(opts.journal);
      this.earlier = j.executions;
      if (j.skippedLines) opts.log?.(`execution journal: ${j.skippedLines} line(s) that do not parse skipped`);
    }
  }

  /** Every execution known, oldest first: earlier processes' (from the journal), then this one's. */
  history(): ExecutionSummary[] {
    return [...this.earlier, ...[...this.executions.values()].map((e) => this.summary(e))];
  }

  /** An execution by name: this process's, else the newest of that name in the journal. */
  find(name: string): ExecutionSummary | undefined {
    const e = this.executions.get(name);
    if (e) return this.summary(e);
    return [...this.earlier].reverse().find((x) => x.name === name);
  }

  private record(event: 'started' | 'ended', rec: ExecutionRecord): void {
    if (!this.opts.journal) return;
    const err = appendJournal(this.opts.journal, event, this.summary(rec));
    if (err) this.opts.log?.(`execution journal: ${rec.name} not recorded (${err})`);
  }

  private readonly cache = new Map<
    string,
    {
      sm: StateMachine;
      handlers: Record<string, (input: unknown) => Promise<unknown>>;
      retries: Record<string, number>;
    }
  >();

  /** Parse and validate a workflow's ASL once and load its step modules (a cold start paid once). */
  private compiled(workflow: WorkflowName) {
    const hit = this.cache.get(workflow);
    if (hit) return hit;
    const { definition, tasks } = loadDefinition(workflow);
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [state, resource] of Object.entries(tasks)) {
      if (NESTED_EXECUTION.test(resource)) {
        handlers[state] = (stateInput: unknown) => this.nested(state, stateInput);
        continue;
      }
      const mod = moduleForResource(resource);
      const { step, warm } = require(mod.file) as { step?: StepFn; warm?: Warm };
      if (typeof step !== 'function') throw new Error(`${mod.file} exports no step() for ${resource}`);
      handlers[state] = async (stateInput: unknown) => {
        const fault = this.faults.find((f) => f.state === state && f.times > 0);
        if (fault) {
          fault.times--;
          const e = new Error(fault.message ?? `injected fault in ${state}`);
          e.name = 'InjectedFault';
          throw e;
        }
        const sim = this.opts.lambdaSim;
        if (sim) {
          await sleep(ms('sfnTransition'));
          await sim.invoke(mod.fn);
        }
        // As functions/lib/handler.ts's lambda(): a warm-up runs no step, only the step's warm().
        if (isWarmup(stateInput)) return answerWarmup(warm, this.deps(), `${state}: `);
        return step(stateInput, this.deps());
      };
    }
    const retries: Record<string, number> = {};
    if (this.opts.retryIntervalMs !== undefined)
      for (const s of Object.keys(tasks)) retries[s] = this.opts.retryIntervalMs;
    const sm = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    const c = { sm, handlers, retries };
    this.cache.set(workflow, c);
    return c;
  }

  /**
   * `states:startExecution.sync:2`: start the child workflow in this runner and wait for it. As in
   * Step Functions, the result carries the child's Output (JSON), and a child that did not succeed
   * fails the Task with States.TaskFailed, its Cause the child's description (Error and Cause).
   */
  private async nested(state: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as { StateMachineArn?: unknown; Name?: unknown; Input?: unknown };
    const m = /:stateMachine:pgwarden-lab-([a-z-]+)$/.exec(String(p.StateMachineArn));
    if (!m) throw new Error(`${state}: StateMachineArn ${String(p.StateMachineArn)} is not a lab workflow`);
    const workflow = m[1] as WorkflowName;
    const name = typeof p.Name === 'string' ? p.Name : `${state}-${Date.now()}`;
    const { executionArn } = await this.start(workflow, name, p.Input ?? {});
    const rec = this.executions.get(name)!;
    await rec.done;
    const description = {
      ExecutionArn: executionArn,
      Name: name,
      StateMachineArn: p.StateMachineArn,
      Status: rec.status,
      Input: p.Input ?? {},
      StartDate: rec.startedAtMs,
      StopDate: rec.endedAtMs,
    };
    if (rec.status === 'SUCCEEDED') return { ...description, Output: rec.output };
    const e = new Error(JSON.stringify({ ...description, Error: rec.error?.Error, Cause: rec.error?.Cause }));
    e.name = 'States.TaskFailed';
    throw e;
  }

  /** Compile every available workflow now, so that the first failover does not pay for it. */
  warm(workflows: WorkflowName[]): void {
    for (const w of workflows) {
      if (!existsSync(join(REPO_ROOT, 'statemachines', `${w}.asl.json`))) continue;
      try {
        this.compiled(w);
      } catch (e) {
        this.opts.log?.(`workflow ${w} not loadable: ${(e as Error).message}`);
      }
    }
  }

  /** Fault injection for drills and tests: the named Task state throws `times` times. */
  injectFault(f: Fault): void {
    this.faults.push({ ...f });
  }

  onEvent(fn: (e: ExecutionRecord, event: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: ExecutionRecord, event: string): void {
    for (const l of this.listeners) l(e, event);
  }

  async start(workflow: WorkflowName, executionName: string, input: unknown): Promise<StartResult> {
    const arn = `arn:aws:states:us-east-1:000000000000:execution:pgwarden-lab-${workflow}:${executionName}`;
    if (this.opts.lambdaSim) await sleep(ms('sfnStart'));
    const existing = this.executions.get(executionName);
    if (existing) return { executionName, executionArn: existing.arn, started: false };
    const { sm, handlers, retries } = this.compiled(workflow);
    const rec: ExecutionRecord = {
      name: executionName,
      arn,
      workflow,
      status: 'RUNNING',
      startedAt: new Date().toISOString(),
      startedAtMs: Date.now(),
      input,
      steps: [],
      passed: new Set(),
      done: Promise.resolve(),
    };
    // Each step's own error, per execution: the emulator's StateCaught event names the catcher but
    // not the Error and Cause it caught, and history must say why a step failed.
    const stepErrors = new Map<string, { Error: string; Cause: string }>();
    const ownHandlers = Object.fromEntries(
      Object.entries(handlers).map(([state, fn]) => [
        state,
        async (stateInput: unknown) => {
          try {
            return await fn(stateInput);
          } catch (err) {
            const e = err as Partial<Error> | undefined;
            stepErrors.set(state, { Error: e?.name || 'Error', Cause: e?.message ?? String(err) });
            throw err;
          }
        },
      ]),
    );
    const exec = sm.run(input as never, {
      overrides: { taskResourceLocalHandlers: ownHandlers as never, retryIntervalOverrides: retries },
      context: { Execution: { Id: arn, Name: executionName, StartTime: rec.startedAt, Input: input } } as never,
    });
    this.executions.set(executionName, rec);
    this.record('started', rec);
    this.opts.log?.(`workflow ${workflow} started: ${executionName}`);
    const logs = (async () => {
      for await (const ev of exec.eventLogs) {
        const e = ev as {
          type: string;
          timestamp: number;
          state?: { name: string; type: string };
          Error?: string;
          Cause?: unknown;
        };
        if (!e.state) continue;
        if (e.type === 'StateEntered') {
          rec.steps.push({ state: e.state.name, type: e.state.type, startedAt: e.timestamp, attempts: 1 });
        }
        const cur = [...rec.steps].reverse().find((s) => s.state === e.state!.name);
        if (!cur) continue;
        if (e.type === 'StateRetried') cur.attempts++;
        if (e.type === 'StateFailed' || e.type === 'StateCaught') {
          const own = stepErrors.get(e.state.name);
          const name = e.Error || own?.Error || 'Error';
          const cause = e.Cause !== undefined && e.Cause !== '' ? String(e.Cause) : (own?.Cause ?? '');
          cur.error = `${name}: ${cause}`.slice(0, 500);
        }
        if (e.type === 'StateExited' || e.type === 'StateFailed') {
          cur.endedAt = e.timestamp;
          cur.durationMs = e.timestamp - cur.startedAt;
          if (e.type === 'StateExited') {
            rec.passed.add(e.state.name);
            this.emit(rec, `exited:${e.state.name}`);
          }
        }
      }
    })().catch(() => undefined);
    rec.done = exec.result
      .then(
        async (out) => {
          await logs;
          rec.status = 'SUCCEEDED';
          rec.output = out;
        },
        async (err: Error & { Error?: string; Cause?: unknown }) => {
          await logs;
          rec.status = 'FAILED';
          const cause = (err as { cause?: { name?: string; message?: string } }).cause;
          rec.error = { Error: cause?.name ?? err.name, Cause: cause?.message ?? err.message };
        },
      )
      .then(() => {
        rec.endedAtMs = Date.now();
        this.record('ended', rec);
        this.opts.log?.(
          `workflow ${workflow} ${rec.status}: ${executionName}${rec.error ? ` (${rec.error.Error}: ${rec.error.Cause})` : ''}`,
        );
        this.emit(rec, 'done');
      });
    return { executionName, executionArn: arn, started: true };
  }

  /** Resolve when the execution has left `state` or ended. */
  async waitFor(name: string, state: string | null, timeoutMs: number): Promise<ExecutionRecord | undefined> {
    const rec = this.executions.get(name);
    if (!rec) return undefined;
    const reached = () => rec.status !== 'RUNNING' || (state !== null && rec.passed.has(state));
    if (reached()) return rec;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve();
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e === rec && reached()) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
    return rec;
  }

  /** Resolve when more than `finished` steps have finished, or the execution has ended. */
  async waitForSteps(name: string, finished: number, timeoutMs: number): Promise<ExecutionRecord | undefined> {
    const rec = this.executions.get(name);
    if (!rec) return undefined;
    const reached = () =>
      rec.status !== 'RUNNING' || rec.steps.filter((s) => s.endedAt !== undefined).length > finished;
    if (reached()) return rec;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve();
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e === rec && reached()) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
    return rec;
  }

  summary(rec: ExecutionRecord): ExecutionSummary {
    return {
      name: rec.name,
      arn: rec.arn,
      workflow: rec.workflow,
      status: rec.status,
      startedAt: rec.startedAt,
      durationMs: (rec.endedAtMs ?? Date.now()) - rec.startedAtMs,
      input: rec.input,
      output: rec.output,
      error: rec.error,
      steps: rec.steps.map((s) => ({
        state: s.state,
        type: s.type,
        durationMs: s.durationMs,
        attempts: s.attempts,
        error: s.error,
        offsetMs: s.startedAt - rec.startedAtMs,
      })),
    };
  }
}
