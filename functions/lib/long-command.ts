/**
 * Node commands that may outlive one Lambda invocation (at most 900 s): a pg_rewind or, worse, a
 * pg_basebackup of a large database. A start step sends the command (NodeCommands.start) and returns
 * a LongCommandProgress that the workflow keeps in its state; a poll step waits for the command inside
 * its Lambda (up to settings().commandPollWaitMs, returning early when it ends) and returns the
 * progress again; a Choice loops back to the poll while `running` is true. The command's deadline
 * travels in the state: past it, the poll cancels the command and fails naming the node and the time
 * it ran.
 *
 * Retries stay safe: the start is keyed by a request id (execution, action, node, attempt), so a
 * retried start returns the command it already sent; a retried poll only looks again. A command that
 * fails is started again by the poll, as a new attempt under the same deadline, up to maxAttempts.
 */
import { StepRefusal } from './handler';
import { parseResult } from './node-result';
import type { Deps, NodeAction } from './ports';
import { settings } from './settings';

/** A started node command as the workflow state carries it. */
export interface LongCommand {
  node: string;
  instanceId: string;
  action: NodeAction;
  params: Record<string, string>;
  commandId: string;
  /** The request id of the first attempt; attempt n > 1 runs as `${requestId}#${n}`. */
  requestId: string;
  attempt: number;
  maxAttempts: number;
  /** ISO 8601: when the first attempt was started, and when the command must have ended. */
  startedAt: string;
  deadline: string;
  /** Why earlier attempts failed (their scripts' last words). */
  failures: string[];
}

export interface LongCommandProgress {
  running: true;
  command: LongCommand;
  elapsedMs: number;
  /** The transport's status, or Restarted when a failed attempt was just started again. */
  status: string;
}

export interface LongCommandDone {
  running: false;
  command: LongCommand;
  /** The script's `result k=v ...` line. */
  result: Record<string, string>;
  elapsedMs: number;
}

/** The command exited non-zero on its last attempt. Not retried by the workflows (the poll re-ran it). */
export class NodeCommandFailedError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'NodeCommandFailed';
  }
}

/** The command was still running at its deadline (it has been cancelled). */
export class NodeCommandDeadlineError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'NodeCommandDeadline';
  }
}

/** A poll step's Task has TimeoutSeconds 420 in the ASL: it must return well before. */
export const MAX_POLL_WAIT_MS = 360_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Start `action` on `node` (or find the one this request already started), under a deadline of
 * `timeoutMs` from now.
 */
export async function startLongCommand(
  deps: Pick<Deps, 'nodes' | 'now' | 'log'>,
  node: { name: string; instanceId: string },
  action: NodeAction,
  params: Record<string, string>,
  opts: { timeoutMs: number; requestId: string; maxAttempts?: number },
): Promise<LongCommandProgress> {
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0)
    throw new Error(`${action} on ${node.name}: timeoutMs must be a positive number, got ${opts.timeoutMs}`);
  if (!opts.requestId) throw new Error(`${action} on ${node.name}: a request id is needed to start it once`);
  const now = deps.now().getTime();
  return launch(deps, {
    node: node.name,
    instanceId: node.instanceId,
    action,
    params,
    commandId: '',
    requestId: opts.requestId,
    attempt: 1,
    maxAttempts: opts.maxAttempts ?? 3,
    startedAt: new Date(now).toISOString(),
    deadline: new Date(now + opts.timeoutMs).toISOString(),
    failures: [],
  });
}

/** Send attempt `c.attempt` of the command (or find it, when this attempt was sent already). */
async function launch(deps: Pick<Deps, 'nodes' | 'now' | 'log'>, c: LongCommand): Promise<LongCommandProgress> {
  const now = deps.now().getTime();
  const left = Date.parse(c.deadline) - now;
  if (left <= 0)
    throw new NodeCommandDeadlineError(
      `${c.action} on ${c.node}: its deadline ${c.deadline} passed before attempt ${c.attempt} could start`,
    );
  const requestId = c.attempt === 1 ? c.requestId : `${c.requestId}#${c.attempt}`;
  const s = await deps.nodes.start(c.instanceId, c.action, c.params, { timeoutMs: left, requestId });
  deps.log(`${c.action} on ${c.node} ${s.reused ? 'already started' : 'started'}`, {
    commandId: s.commandId,
    attempt: c.attempt,
    deadline: c.deadline,
  });
  return {
    running: true,
    command: { ...c, commandId: s.commandId },
    elapsedMs: now - Date.parse(c.startedAt),
    status: s.reused ? 'AlreadyStarted' : 'Started',
  };
}

/** The started command of a poll step's input (e.g. `$.rewind`), checked: bad input is refused clearly. */
export function startedCommand(progress: unknown, where: string): LongCommand {
  const bad = (why: string): never => {
    throw new StepRefusal('InvalidInput', `${where} holds no started node command: ${why}`);
  };
  if (!progress || typeof progress !== 'object') bad(`expected an object, got ${JSON.stringify(progress)}`);
  const c = (progress as { command?: unknown }).command as Partial<LongCommand> | undefined;
  if (!c || typeof c !== 'object') return bad('no "command"');
  for (const k of ['node', 'instanceId', 'action', 'commandId', 'requestId'] as const)
    if (typeof c[k] !== 'string' || !c[k]) bad(`command.${k} must be a non-empty string`);
  for (const k of ['attempt', 'maxAttempts'] as const)
    if (!Number.isInteger(c[k]) || (c[k] as number) < 1) bad(`command.${k} must be a positive integer`);
  for (const k of ['startedAt', 'deadline'] as const)
    if (typeof c[k] !== 'string' || Number.isNaN(Date.parse(c[k] as string)))
      bad(`command.${k} must be an ISO 8601 time, got ${JSON.stringify(c[k])}`);
  if (!c.params || typeof c.params !== 'object') bad('command.params must be an object');
  return { ...(c as LongCommand), failures: Array.isArray(c.failures) ? c.failures.map(String) : [] };
}

/**
 * Wait up to `waitMs` (never past the deadline) for the command. Still running: the progress again.
 * Ended well: its result. Failed: started again while attempts and time remain, else
 * NodeCommandFailedError. Past the deadline: cancelled, NodeCommandDeadlineError.
 */
export async function pollLongCommand(
  deps: Pick<Deps, 'nodes' | 'now' | 'log'>,
  c: LongCommand,
  waitMs = settings().commandPollWaitMs,
): Promise<LongCommandProgress | LongCommandDone> {
  if (!Number.isFinite(waitMs) || waitMs < 0 || waitMs > MAX_POLL_WAIT_MS)
    throw new Error(
      `the poll wait (PGWARDEN_COMMAND_POLL_WAIT_MS) must be 0 to ${MAX_POLL_WAIT_MS} ms, well under the poll Task's timeout; got ${waitMs}`,
    );
  const started = Date.parse(c.startedAt);
  const deadline = Date.parse(c.deadline);
  const wait = Math.max(0, Math.min(waitMs, deadline - deps.now().getTime()));
  const r = await deps.nodes.poll(c.instanceId, c.commandId, wait);
  const now = deps.now().getTime();
  const elapsedMs = now - started;

  if ('running' in r) {
    if (now < deadline) return { running: true, command: c, elapsedMs, status: r.status };
    await deps.nodes.cancel(c.instanceId, c.commandId);
    throw new NodeCommandDeadlineError(
      `${c.action} on ${c.node} did not finish within ${seconds(deadline - started)}: still running after ` +
        `${seconds(elapsedMs)} (command ${c.commandId}, attempt ${c.attempt}, status ${r.status}); cancelled`,
    );
  }
  if (r.ok) return { running: false, command: c, result: parseResult(r.stdout), elapsedMs };

  const why = r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`;
  const failures = [...c.failures, why];
  if (c.attempt < c.maxAttempts && now < deadline) {
    deps.log(`${c.action} on ${c.node} failed (attempt ${c.attempt} of ${c.maxAttempts}): ${why}; starting it again`, {
      commandId: c.commandId,
    });
    const next = await launch(deps, { ...c, attempt: c.attempt + 1, failures });
    return { ...next, status: 'Restarted' };
  }
  const earlier = failures.length > 1 ? `; earlier attempts: ${failures.slice(0, -1).join(' | ')}` : '';
  throw new NodeCommandFailedError(
    `${c.action} on ${c.node} failed: ${why} (attempt ${c.attempt} of ${c.maxAttempts}, after ${seconds(elapsedMs)}${earlier})`,
  );
}
