/**
 * NodeCommands over SSM Run Command: each node action is the SSM document `${prefix}-${action}`
 * (defined in infra/aws, running the same infra/node script the lab spawns).
 *
 * `run` sends and waits for the result within the calling Lambda. `start` / `poll` split that for
 * commands that may outlive a Lambda (at most 900 s): `start` sends with the document's
 * `executionTimeout` set to the command's own timeout and returns the command id; `poll` waits up to
 * a given time for the result. A request id is kept in the command's Comment (hashed), so a retried
 * start finds the command it already sent instead of sending a second one.
 */
import { createHash } from 'node:crypto';
import {
  CancelCommandCommand,
  type CommandInvocation,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import {
  type NodeAction,
  NodeCommandBusyError,
  type NodeCommandResult,
  type NodeCommandRunning,
  type NodeCommands,
  type NodeCommandStarted,
} from '../ports';

export interface SsmNodeCommandsOptions {
  /** Document name prefix: the document for `promote` is `${prefix}-promote`. */
  documentPrefix?: string;
  /** When set, command output also goes to this CloudWatch Logs group (GetCommandInvocation truncates at 24 000 chars). */
  cloudWatchLogGroup?: string;
  /** Used when the caller passes no timeoutMs. */
  defaultTimeoutMs?: number;
  pollInitialMs?: number;
  pollMaxMs?: number;
  /**
   * run (the failover's short node commands): longest interval between two polls; default pollMaxMs
   * when that is given, else 250 ms: a result is seen within 250 ms of being reported, wherever it
   * falls (with 2 s, a fence that ended just after the 1.5 s poll was seen at 3.1 s).
   * GetCommandInvocation is free; 4 calls a second per running command.
   */
  runPollMaxMs?: number;
  /**
   * start: how long SSM may take to deliver the command (SendCommand TimeoutSeconds, at least 30 s);
   * a command not running by then never runs. Default 300 s.
   */
  startDeliveryTimeoutMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class NodeCommandTimeoutError extends Error {
  constructor(
    public readonly instanceId: string,
    public readonly action: NodeAction,
    public readonly commandId: string,
    timeoutMs: number,
    lastStatus: string,
  ) {
    super(
      `node command "${action}" on instance ${instanceId} did not finish within ${timeoutMs} ms ` +
        `(SSM command ${commandId}, last status ${lastStatus})`,
    );
    this.name = 'NodeCommandTimeoutError';
  }
}

export class NodeCommandDeliveryError extends Error {
  constructor(instanceId: string, action: NodeAction, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`could not send node command "${action}" to instance ${instanceId}: ${why}`, { cause });
    this.name = 'NodeCommandDeliveryError';
  }
}

const FINISHED_NOT_OK = new Set(['Failed', 'Cancelled', 'TimedOut', 'Cancelling']);
/** Statuses of an invocation that has not ended (GetCommandInvocation / ListCommandInvocations). */
const NOT_ENDED = new Set(['Pending', 'InProgress', 'Delayed']);
/** SendCommand's TimeoutSeconds (time allowed to start the command) must be at least 30. */
const MIN_SSM_TIMEOUT_SECONDS = 30;
/** aws:runShellScript's timeoutSeconds (the documents' executionTimeout parameter): 1 s to 48 h. */
export const MAX_EXECUTION_TIMEOUT_SECONDS = 172_800;
/** ListCommandInvocations pages read when looking for an earlier start (50 invocations each). */
const MAX_LIST_PAGES = 10;

/** The Comment of a started command: the action and a hash of the request id (Comment: 100 chars at most). */
export function startComment(action: NodeAction, requestId?: string): string {
  const base = `pgwarden ${action}`;
  if (!requestId) return base.slice(0, 100);
  return `${base} req=${createHash('sha256').update(requestId).digest('hex').slice(0, 32)}`.slice(0, 100);
}

/** ISO 8601 without milliseconds, as ListCommandInvocations' InvokedAfter filter takes it. */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SsmNodeCommands implements NodeCommands {
  private readonly prefix: string;
  private readonly defaultTimeoutMs: number;
  private readonly pollInitialMs: number;
  private readonly pollMaxMs: number;
  private readonly runPollMaxMs: number;
  private readonly startDeliveryTimeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly ssm: SSMClient,
    private readonly opts: SsmNodeCommandsOptions = {},
  ) {
    this.prefix = opts.documentPrefix ?? 'pgwarden';
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 60_000;
    this.pollInitialMs = opts.pollInitialMs ?? 100;
    this.pollMaxMs = opts.pollMaxMs ?? 2_000;
    this.runPollMaxMs = opts.runPollMaxMs ?? opts.pollMaxMs ?? 250;
    this.startDeliveryTimeoutMs = opts.startDeliveryTimeoutMs ?? 300_000;
    this.sleep = opts.sleep ?? realSleep;
    this.now = opts.now ?? Date.now;
  }

  async run(
    target: string,
    action: NodeAction,
    params: Record<string, string>,
    runOpts: { timeoutMs?: number } = {},
  ): Promise<NodeCommandResult> {
    const timeoutMs = runOpts.timeoutMs ?? this.defaultTimeoutMs;
    const started = this.now();
    const deadline = started + timeoutMs;

    const commandId = await this.send(target, action, {
      document: `${this.prefix}-${action}`,
      parameters: params,
      deliverySeconds: Math.max(MIN_SSM_TIMEOUT_SECONDS, Math.ceil(timeoutMs / 1000)),
      comment: `pgwarden ${action}`.slice(0, 100),
    });

    // The invocation is never done (and usually not even visible) right after SendCommand: wait first.
    let interval = this.pollInitialMs;
    let lastStatus = 'NotYetVisible';
    for (;;) {
      await this.sleep(Math.max(0, Math.min(interval, deadline - this.now())));
      interval = Math.min(interval * 2, this.runPollMaxMs);
      const inv = await this.invocation(commandId, target, `node command "${action}"`);
      if (inv) {
        lastStatus = inv.Status ?? 'Unknown';
        if (lastStatus === 'Success' || FINISHED_NOT_OK.has(lastStatus)) {
          return {
            ok: lastStatus === 'Success',
            exitCode: inv.ResponseCode ?? -1,
            stdout: inv.StandardOutputContent ?? '',
            stderr: inv.StandardErrorContent ?? '',
            durationMs: this.now() - started,
          };
        }
        // Pending / InProgress / Delayed keep polling; so does a status we do not know: the deadline bounds it.
      }
      if (this.now() >= deadline) {
        await this.cancel(target, commandId);
        throw new NodeCommandTimeoutError(target, action, commandId, timeoutMs, lastStatus);
      }
    }
  }

  async start(
    target: string,
    action: NodeAction,
    params: Record<string, string>,
    startOpts: { timeoutMs: number; requestId?: string },
  ): Promise<NodeCommandStarted> {
    if (typeof target !== 'string' || !target) throw new Error(`start of node command "${action}": no target instance`);
    const timeoutMs = startOpts?.timeoutMs;
    if (
      typeof timeoutMs !== 'number' ||
      !Number.isFinite(timeoutMs) ||
      timeoutMs <= 0 ||
      timeoutMs > MAX_EXECUTION_TIMEOUT_SECONDS * 1000
    )
      throw new Error(
        `start of node command "${action}" on instance ${target}: timeoutMs must be a number of ms in ` +
          `1..${MAX_EXECUTION_TIMEOUT_SECONDS * 1000} (SSM's executionTimeout), got ${String(timeoutMs)}`,
      );
    const document = `${this.prefix}-${action}`;
    const comment = startComment(action, startOpts.requestId);
    const deliverySeconds = Math.max(MIN_SSM_TIMEOUT_SECONDS, Math.ceil(this.startDeliveryTimeoutMs / 1000));

    let earlier: CommandInvocation[];
    try {
      // Anything sent since then may still run: the delivery window plus the command's own timeout.
      earlier = await this.invocationsOf(target, document, this.now() - deliverySeconds * 1000 - timeoutMs - 60_000);
    } catch (err) {
      throw new NodeCommandDeliveryError(target, action, err);
    }
    if (startOpts.requestId) {
      const mine = earlier.find((i) => i.Comment === comment && i.CommandId);
      if (mine) return { commandId: mine.CommandId!, reused: true };
    }
    const busy = earlier.find((i) => NOT_ENDED.has(i.Status ?? '') && i.CommandId);
    if (busy) throw new NodeCommandBusyError(target, action, busy.CommandId!);

    const commandId = await this.send(target, action, {
      document,
      // The documents' own parameter (infra/aws/actions.js): how long the script may run on the node.
      parameters: { ...params, executionTimeout: String(Math.ceil(timeoutMs / 1000)) },
      deliverySeconds,
      comment,
    });
    return { commandId, reused: false };
  }

  /** SendCommand of one document to one instance; its command id, or a delivery error. */
  private async send(
    target: string,
    action: NodeAction,
    c: { document: string; parameters: Record<string, string>; deliverySeconds: number; comment: string },
  ): Promise<string> {
    try {
      const sent = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: c.document,
          InstanceIds: [target],
          Parameters: Object.fromEntries(Object.entries(c.parameters).map(([k, v]) => [k, [v]])),
          TimeoutSeconds: c.deliverySeconds,
          Comment: c.comment,
          ...(this.opts.cloudWatchLogGroup
            ? {
                CloudWatchOutputConfig: {
                  CloudWatchOutputEnabled: true,
                  CloudWatchLogGroupName: this.opts.cloudWatchLogGroup,
                },
              }
            : {}),
        }),
      );
      if (!sent.Command?.CommandId) throw new Error('SendCommand returned no CommandId');
      return sent.Command.CommandId;
    } catch (err) {
      throw new NodeCommandDeliveryError(target, action, err);
    }
  }

  async poll(target: string, commandId: string, waitMs: number): Promise<NodeCommandResult | NodeCommandRunning> {
    if (typeof commandId !== 'string' || !commandId)
      throw new Error(`poll of a node command on instance ${target}: no command id`);
    if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0)
      throw new Error(`poll of SSM command ${commandId}: waitMs must be a non-negative number, got ${String(waitMs)}`);
    const deadline = this.now() + waitMs;
    let interval = this.pollInitialMs;
    // Not visible right after SendCommand (InvocationDoesNotExist): still pending.
    let status = 'NotYetVisible';
    for (;;) {
      const inv = await this.invocation(commandId, target, 'node command');
      if (inv) {
        status = inv.Status ?? 'Unknown';
        if (status === 'Success' || FINISHED_NOT_OK.has(status)) {
          const began = Date.parse(inv.ExecutionStartDateTime ?? '');
          const ended = Date.parse(inv.ExecutionEndDateTime ?? '');
          return {
            ok: status === 'Success',
            exitCode: inv.ResponseCode ?? -1,
            stdout: inv.StandardOutputContent ?? '',
            stderr: inv.StandardErrorContent ?? '',
            durationMs: Number.isFinite(began) && Number.isFinite(ended) ? Math.max(0, ended - began) : 0,
          };
        }
      }
      const left = deadline - this.now();
      if (left <= 0) return { running: true, status };
      await this.sleep(Math.min(interval, left));
      interval = Math.min(interval * 2, this.pollMaxMs);
    }
  }

  /** Invocations of `document` on `instanceId` requested since `sinceMs`, newest first (any status). */
  private async invocationsOf(instanceId: string, document: string, sinceMs: number): Promise<CommandInvocation[]> {
    const out: CommandInvocation[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const r = await this.ssm.send(
        new ListCommandInvocationsCommand({
          InstanceId: instanceId,
          Filters: [
            { key: 'DocumentName', value: document },
            { key: 'InvokedAfter', value: isoSeconds(sinceMs) },
          ],
          MaxResults: 50,
          NextToken: token,
        }),
      );
      out.push(...(r.CommandInvocations ?? []));
      token = r.NextToken;
      if (!token) break;
    }
    return out;
  }

  /** undefined while the invocation is not yet visible (GetCommandInvocation lags SendCommand briefly). */
  private async invocation(
    commandId: string,
    instanceId: string,
    what: string,
  ): Promise<GetCommandInvocationCommandOutput | undefined> {
    try {
      return await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    } catch (err) {
      if (err instanceof Error && err.name === 'InvocationDoesNotExist') return undefined;
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new Error(`polling ${what} on instance ${instanceId} (SSM command ${commandId}) failed: ${why}`, {
        cause: err,
      });
    }
  }

  /**
   * Best effort: a node action that runs after we gave up on it (a late promote or fence) is worse
   * than one that never runs, so ask SSM to cancel it. The timeout error is what the caller sees.
   */
  async cancel(target: string, commandId: string): Promise<void> {
    try {
      await this.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [target] }));
    } catch {
      // The command may have just finished, or cancel is not allowed: nothing more we can do.
    }
  }
}
