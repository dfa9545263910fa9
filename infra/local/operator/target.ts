/**
 * Where the operator commands go: the lab (its control plane's HTTP API) or an AWS deployment (Step
 * Functions, CloudWatch and the topology store, called from this machine). Both offer the same verbs
 * and answer in the same plain shapes, so the commands (./commands.ts) do not know which is which.
 */
import type { AlarmView } from '../../../functions/lib/aws/cloudwatch-alarms';
import type { ExecutionView, StepView } from '../../../functions/lib/aws/sfn-executions';
import type { DryRunResult } from '../../../functions/triggers/dry-run';

export type { AlarmView, DryRunResult, ExecutionView, StepView };

export type WorkflowAction = 'failover' | 'switchover' | 'rejoin' | 'maintenance' | 'scale';

/** The operator Lambda's request shape (functions/triggers/operator.ts), minus its action field. */
export interface OperatorRequest {
  action: WorkflowAction;
  reason?: string;
  to?: string;
  maxLagBytes?: number;
  node?: string;
  method?: string;
  command?: string;
  direction?: 'out' | 'in';
  drainSeconds?: number;
}

export interface Started {
  workflow: string;
  executionName: string;
  executionArn: string;
  /** false: an execution of that name already ran or runs (a duplicate request joined it). */
  started: boolean;
}

export interface StatusView {
  target: string;
  cluster: string;
  primary: string;
  timeline: number;
  paused: boolean;
  pausedReason?: string;
  lease?: { workflow: string; execution: string; expiresAt: string };
  nodes: { name: string; role: string; host: string; port: number; maintenance?: boolean }[];
  alarms: AlarmView[];
  executions: ExecutionView[];
}

/** The request was refused before any execution started; nothing changed. */
export class Refusal extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'Refusal';
  }
}

/** The target cannot be reached or answered something unusable. */
export class TargetError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'TargetError';
  }
}

export interface OperatorTarget {
  /** Named in every confirmation prompt and status: which cluster an operator is about to act on. */
  readonly label: string;
  start(req: OperatorRequest): Promise<Started>;
  dryRun(req: OperatorRequest): Promise<DryRunResult>;
  /** Report each step as it finishes; resolve with the ended execution. */
  watch(s: Started, onStep: (step: StepView) => void): Promise<ExecutionView>;
  /** One execution with its steps. */
  execution(name: string): Promise<ExecutionView>;
  /** Recent executions, newest first, with their steps. */
  history(limit: number): Promise<ExecutionView[]>;
  status(): Promise<StatusView>;
  setPaused(paused: boolean, reason: string): Promise<void>;
}
