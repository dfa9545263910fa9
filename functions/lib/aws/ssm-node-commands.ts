/**
 * NodeCommands over SSM Run Command: each node action is the SSM document `${prefix}-${action}`
 * (defined in infra/aws, running the same infra/node script the lab spawns).
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { NodeAction, NodeCommandResult, NodeCommands } from '../ports';

export interface SsmNodeCommandsOptions {
  /** Document name prefix: the document for `promote` is `${prefix}-promote`. */
  documentPrefix?: string;
  /** When set, command output also goes to this CloudWatch Logs group (GetCommandInvocation truncates at 24 000 chars). */
  cloudWatchLogGroup?: string;
  /** Used when the caller passes no timeoutMs. */
  defaultTimeoutMs?: number;
  pollInitialMs?: number;
  pollMaxMs?: number;
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
/** SendCommand's TimeoutSeconds (time allowed to start the command) must be at least 30. */
const MIN_SSM_TIMEOUT_SECONDS = 30;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SsmNodeCommands implements NodeCommands {
  private readonly prefix: string;
  private readonly defaultTimeoutMs: number;
  private readonly pollInitialMs: number;
  private readonly pollMaxMs: number;
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

    let commandId: string;
    try {
      const sent = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: `${this.prefix}-${action}`,
          InstanceIds: [target],
          Parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]])),
          TimeoutSeconds: Math.max(MIN_SSM_TIMEOUT_SECONDS, Math.ceil(timeoutMs / 1000)),
          Comment: `pgwarden ${action}`.slice(0, 100),
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
      commandId = sent.Command.CommandId;
    } catch (err) {
      throw new NodeCommandDeliveryError(target, action, err);
    }

    // The invocation is never done (and usually not even visible) right after SendCommand: wait first.
    let interval = this.pollInitialMs;
    let lastStatus = 'NotYetVisible';
    for (;;) {
      await this.sleep(Math.max(0, Math.min(interval, deadline - this.now())));
      interval = Math.min(interval * 2, this.pollMaxMs);
      const inv = await this.poll(commandId, target, action);
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
        await this.cancel(commandId, target);
        throw new NodeCommandTimeoutError(target, action, commandId, timeoutMs, lastStatus);
      }
    }
  }

  /** undefined while the invocation is not yet visible (GetCommandInvocation lags SendCommand briefly). */
  private async poll(
    commandId: string,
    instanceId: string,
    action: NodeAction,
  ): Promise<GetCommandInvocationCommandOutput | undefined> {
    try {
      return await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    } catch (err) {
      if (err instanceof Error && err.name === 'InvocationDoesNotExist') return undefined;
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new Error(
        `polling node command "${action}" on instance ${instanceId} (SSM command ${commandId}) failed: ${why}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * Best effort: a node action that runs after we gave up on it (a late promote or fence) is worse
   * than one that never runs, so ask SSM to cancel it. The timeout error is what the caller sees.
   */
  private async cancel(commandId: string, instanceId: string): Promise<void> {
    try {
      await this.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
    } catch {
      // The command may have just finished, or cancel is not allowed: nothing more we can do.
    }
  }
}
