/**
 * Ports: everything a workflow step needs from the outside world. Each has an AWS adapter
 * (functions/lib/aws) and a lab adapter (infra/local). Domain code only sees these interfaces.
 */
import type { Topology } from './topology';
import alarmDefinitions from '../metrics/alarms.json';
import nodeActionDefinitions from './node-actions.json';

/**
 * A node action is one infra/node script, run on the instance (SSM Run Command / local spawn). The
 * actions are defined once, in node-actions.json (also read by infra/aws/naming.js: one SSM document each).
 */
export type NodeAction = keyof typeof nodeActionDefinitions.actions;

/** Every node action, in node-actions.json's order. */
export const NODE_ACTIONS = Object.keys(nodeActionDefinitions.actions) as NodeAction[];

export interface NodeCommandResult {
  ok: boolean;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A node command still running: NodeCommands.poll returned before it ended. */
export interface NodeCommandRunning {
  running: true;
  /** The transport's status (SSM: Pending, InProgress, Delayed, NotYetVisible; lab: InProgress). */
  status: string;
}

export interface NodeCommandStarted {
  commandId: string;
  /**
   * true when a command of the same request (NodeCommands.start's `requestId`) already existed on
   * the instance: nothing new was started, `commandId` is that command's.
   */
  reused: boolean;
}

/** NodeCommands.start refused: a command of the same action from another request is still running there. */
export class NodeCommandBusyError extends Error {
  constructor(target: string, action: NodeAction, commandId: string) {
    super(
      `${action} is already running on instance ${target} (command ${commandId}, another request): not started twice`,
    );
    this.name = 'NodeCommandBusy';
  }
}

export interface NodeCommands {
  /**
   * Run `action` on the instance `target` (a node or a pgpool instance id) with string parameters.
   * Resolves with the result; rejects only when the command could not be delivered or timed out.
   */
  run(
    target: string,
    action: NodeAction,
    params: Record<string, string>,
    opts?: { timeoutMs?: number },
  ): Promise<NodeCommandResult>;
  /**
   * Start `action` and return at once: for commands that may outlive one Lambda invocation (a
   * pg_basebackup of a large database). The node stops the command after `timeoutMs`. With a
   * `requestId` (e.g. execution + step), starting again under the same id returns the command already
   * started (reused: true) instead of a second one; while a command of `action` from another request
   * still runs on `target`, rejects with NodeCommandBusyError.
   */
  start(
    target: string,
    action: NodeAction,
    params: Record<string, string>,
    opts: { timeoutMs: number; requestId?: string },
  ): Promise<NodeCommandStarted>;
  /**
   * The result of a started command, waiting up to `waitMs` for it to end (0: look once). Resolves
   * with `{ running: true }` while it runs; rejects when the command is unknown on `target`.
   */
  poll(target: string, commandId: string, waitMs: number): Promise<NodeCommandResult | NodeCommandRunning>;
  /** Best effort: stop a started command (one we gave up on). */
  cancel(target: string, commandId: string): Promise<void>;
}

export class TopologyConflictError extends Error {
  constructor(expected: number, actual: number) {
    super(`topology changed concurrently (expected version ${expected}, found ${actual})`);
    this.name = 'TopologyConflictError';
  }
}

/** No instance can be provisioned for a new standby now (InstanceControl.provision). */
export class NoCapacityError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'NoCapacity';
  }
}

export interface TopologyStore {
  get(cluster: string): Promise<Topology>;
  /** Compare-and-set: fails with TopologyConflictError unless the stored version equals next.version - 1. */
  put(next: Topology): Promise<void>;
}

export interface StartResult {
  executionName: string;
  executionArn: string;
  /** false when an execution with this name already existed: a duplicate trigger collapsed into it. */
  started: boolean;
}

export interface WorkflowStarter {
  start(workflow: WorkflowName, executionName: string, input: unknown): Promise<StartResult>;
}

export type WorkflowName = 'failover' | 'switchover' | 'rejoin' | 'maintenance' | 'scale-out' | 'scale-in';

export interface MetricDatum {
  name: string;
  value: number;
  unit: 'Count' | 'Milliseconds' | 'Seconds' | 'Bytes' | 'None' | 'Percent' | 'Count/Second' | 'Bytes/Second';
  dimensions?: Record<string, string>;
  timestamp?: Date;
  /** 1: a high-resolution metric (CloudWatch StorageResolution 1), needed by alarms with periods under 60 s. */
  storageResolution?: 1 | 60;
}

export interface MetricsSink {
  put(namespace: string, data: MetricDatum[]): Promise<void>;
}

export interface Notifier {
  notify(subject: string, message: Record<string, unknown>): Promise<void>;
}

export interface DbCredentials {
  user: string;
  password: string;
  database: string;
  /** PEM of the CA the servers' certificates chain to: connections use TLS and verify them. */
  ca?: string;
}

export interface Secrets {
  /** The automation role's credentials, for direct sessions on the PostgreSQL nodes (never through a pgpool). */
  admin(): Promise<DbCredentials>;
  /**
   * The credentials of sessions through a pgpool (its views, the verifying writes): the `pgpool` role
   * (pg_monitor, writes to the heartbeat table only). Whoever logs in through a pgpool has their
   * password in its pool_passwd, so a pgpool host holds no superuser's or automation role's password.
   */
  pgpool(): Promise<DbCredentials>;
}

export interface InstanceControl {
  /** Hard stop of the instance behind a node (EC2 StopInstances Force in AWS; SIGKILL of the node's processes in the lab). */
  forceStop(instanceId: string): Promise<void>;
  /**
   * An instance ready to become a new standby (scale out on an alarm): in AWS a running spare node
   * instance of the stack (a topology node with role "removed"), in the lab a new node. Throws
   * NoCapacity (functions/triggers/scale-alarm.ts) when there is none.
   */
  provision(t: Topology): Promise<ProvisionedNode>;
}

/** Where a provisioned instance's PostgreSQL will listen, and its pgpool backend id. */
export interface ProvisionedNode {
  name: string;
  host: string;
  port: number;
  backendId: number;
  instanceId: string;
}

/** Everything a workflow step or trigger may use. One wiring per runtime: awsDeps() and the lab's labDeps(). */
export interface Deps {
  cluster: string;
  topology: TopologyStore;
  nodes: NodeCommands;
  instances: InstanceControl;
  workflows: WorkflowStarter;
  metrics: MetricsSink;
  notifier: Notifier;
  secrets: Secrets;
  now(): Date;
  /** Wait `ms` milliseconds (a timer in both runtimes; unit tests pass a fake clock). */
  sleep(ms: number): Promise<void>;
  log(msg: string, fields?: Record<string, unknown>): void;
}

/** The CloudWatch namespace of every pgwarden metric: defined once, in functions/metrics/alarms.json. */
export const METRIC_NAMESPACE: string = alarmDefinitions.namespace;
