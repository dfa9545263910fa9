/**
 * WorkflowStarter over Step Functions StartExecution. The execution name is what collapses
 * duplicate triggers for one failure into one execution: Step Functions refuses a second execution
 * with the same name on the same state machine (ExecutionAlreadyExists), and we report that as
 * `started: false` with the existing execution's ARN.
 *
 * One caveat of the service: a Standard workflow called again with the same name AND the same input
 * while the first is still running answers as if it had started it (same ARN, no error). The
 * triggers put their own source in the input, so duplicates from different sensors do differ.
 * Also, a Standard execution name cannot be reused for 90 days: names must identify the failure
 * (cluster + timeline), not just the cluster.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionName, isValidExecutionName } from '../execution-name';
import type { StartResult, WorkflowName, WorkflowStarter } from '../ports';

export { executionName, isValidExecutionName };

export type StateMachineArns = Partial<Record<WorkflowName, string>>;

/** arn:<partition>:states:<region>:<account>:stateMachine:<name>[:<version or alias>] */
const STATE_MACHINE_ARN = /^arn:([^:]+):states:([^:]+):([^:]+):stateMachine:([^:]+)(?::[^:]+)?$/;

/** The ARN Step Functions gives an execution of `stateMachineArn` named `name`. */
export function executionArn(stateMachineArn: string, name: string): string {
  const m = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!m) throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  const [, partition, region, account, machine] = m;
  return `arn:${partition}:states:${region}:${account}:execution:${machine}:${name}`;
}

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachines: StateMachineArns,
  ) {}

  async start(workflow: WorkflowName, name: string, input: unknown): Promise<StartResult> {
    const stateMachineArn = this.stateMachines[workflow];
    if (!stateMachineArn) {
      const known = Object.keys(this.stateMachines).join(', ') || 'none';
      throw new Error(`no state machine configured for workflow "${workflow}" (configured: ${known})`);
    }
    if (!isValidExecutionName(name)) {
      throw new Error(`invalid execution name "${name}": use executionName() to build one (1-80 of [A-Za-z0-9_-])`);
    }
    try {
      const out = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input ?? {}) }),
      );
      return {
        executionName: name,
        executionArn: out.executionArn ?? executionArn(stateMachineArn, name),
        started: true,
      };
    } catch (err) {
      if (err instanceof Error && err.name === 'ExecutionAlreadyExists') {
        return { executionName: name, executionArn: executionArn(stateMachineArn, name), started: false };
      }
      throw err;
    }
  }
}
