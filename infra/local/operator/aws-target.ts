/**
 * An AWS deployment as an operator target. Workflow commands run the operator trigger's own code here
 * (functions/triggers/operator.ts), whose ports start the execution with StartExecution: the same
 * input, the same execution name and the same lease as the deployed `operator` Lambda. Pause and
 * resume write the topology the same way. A dry run needs the nodes, which only the VPC reaches: it
 * invokes the deployed `operator` Lambda with `dryRun: true`.
 */
import { OperatorInvokeError } from '../../../functions/lib/aws/lambda-operator';
import { operatorAws, type OperatorAws, type OperatorAwsOptions } from '../../../functions/lib/aws/operator-wiring';
import type { ExecutionView } from '../../../functions/lib/aws/sfn-executions';
import { executionArn, type StateMachineArns } from '../../../functions/lib/aws/sfn-workflow-starter';
import type { Deps } from '../../../functions/lib/ports';
import * as operator from '../../../functions/triggers/operator';
import { InvalidRequest, topologyView } from './lab-target';
import {
  Refusal,
  TargetError,
  type DryRunResult,
  type OperatorRequest,
  type OperatorTarget,
  type Started,
  type StatusView,
  type StepView,
} from './target';

export class AwsTarget implements OperatorTarget {
  private readonly aws: OperatorAws;
  private machines?: Promise<StateMachineArns>;
  private deps?: Deps;

  constructor(
    readonly opts: OperatorAwsOptions,
    private readonly pollMs = 1000,
    aws?: OperatorAws,
  ) {
    this.aws = aws ?? operatorAws(opts);
  }

  get label(): string {
    return `AWS cluster ${this.opts.cluster} (stage ${this.opts.stage}, ${this.opts.region})`;
  }

  private async stateMachines(): Promise<StateMachineArns> {
    const arns = await (this.machines ??= this.aws.stateMachines.list(this.opts.cluster));
    if (!Object.keys(arns).length)
      throw new TargetError(
        `no state machine named pgwarden-${this.opts.cluster}-* in ${this.opts.region} (wrong --cluster or --region?)`,
      );
    return arns;
  }

  private async operatorDeps(): Promise<Deps> {
    return (this.deps ??= this.aws.deps(await this.stateMachines()));
  }

  /** Map the trigger's errors to what the CLI reports: refused (exit 1), bad input (exit 2). */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'Refused' || name === 'NoCapacity') throw new Refusal((e as Error).message);
      if (name === 'InvalidEvent') throw new InvalidRequest((e as Error).message);
      throw e;
    }
  }

  async start(req: OperatorRequest): Promise<Started> {
    const deps = await this.operatorDeps();
    const r = await this.call(() => operator.handle({ ...req }, deps));
    if (!('executionArn' in r))
      throw new TargetError(`unexpected answer from the operator trigger: ${JSON.stringify(r)}`);
    return {
      workflow: 'workflow' in r ? String(r.workflow) : req.action,
      executionName: r.executionName,
      executionArn: r.executionArn,
      started: r.action !== 'collapsed',
    };
  }

  async dryRun(req: OperatorRequest): Promise<DryRunResult> {
    try {
      return (await this.aws.operatorLambda.invoke({ ...req, dryRun: true })) as DryRunResult;
    } catch (e) {
      if (e instanceof OperatorInvokeError && /Refused$|^NoCapacity$/.test(e.errorType)) throw new Refusal(e.message);
      if (e instanceof OperatorInvokeError && e.errorType === 'InvalidEvent') throw new InvalidRequest(e.message);
      throw e;
    }
  }

  watch(s: Started, onStep: (step: StepView) => void): Promise<ExecutionView> {
    return this.aws.executions.watch(s.executionArn, onStep, { pollMs: this.pollMs });
  }

  async execution(name: string): Promise<ExecutionView> {
    const candidates = name.startsWith('arn:')
      ? [name]
      : Object.values(await this.stateMachines()).map((sm) => executionArn(sm, name));
    for (const arn of candidates) {
      try {
        const e = await this.aws.executions.describe(arn);
        return { ...e, steps: await this.aws.executions.steps(arn) };
      } catch (err) {
        if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
      }
    }
    throw new InvalidRequest(`no execution named ${name} in cluster ${this.opts.cluster}`);
  }

  async history(limit: number): Promise<ExecutionView[]> {
    const recent = await this.aws.executions.recent(await this.stateMachines(), limit);
    return Promise.all(recent.map(async (e) => ({ ...e, steps: await this.aws.executions.steps(e.arn) })));
  }

  async status(): Promise<StatusView> {
    const deps = await this.operatorDeps();
    const [t, alarms, executions] = await Promise.all([
      deps.topology.get(this.opts.cluster),
      this.aws.alarms.list(`pgwarden-${this.opts.cluster}-`),
      this.aws.executions.recent(await this.stateMachines(), 10),
    ]);
    return { target: this.label, ...topologyView(t), alarms, executions };
  }

  async setPaused(paused: boolean, reason: string): Promise<void> {
    const deps = await this.operatorDeps();
    await this.call(() => operator.handle({ action: paused ? 'pause' : 'resume', reason }, deps));
  }
}
