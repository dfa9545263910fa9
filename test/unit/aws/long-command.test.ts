/**
 * Long node commands (functions/lib/long-command.ts) over the real SSM adapter, the AWS SDK mocked:
 * start once per request, poll within the wait and the deadline, start a failed attempt again, cancel
 * and fail clearly past the deadline, refuse bad state.
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { SsmNodeCommands, startComment } from '../../../functions/lib/aws/ssm-node-commands';
import {
  MAX_POLL_WAIT_MS,
  pollLongCommand,
  startLongCommand,
  startedCommand,
  type LongCommand,
} from '../../../functions/lib/long-command';

const ssmMock = mockClient(SSMClient);
const INSTANCE = 'i-0123456789abcdef0';
const NODE = { name: 'pg1', instanceId: INSTANCE };
const HOUR = 3_600_000;

function setup() {
  const clock = { t: Date.parse('2026-01-05T10:00:00.000Z') };
  const logs: string[] = [];
  const nodes = new SsmNodeCommands(new SSMClient({ region: 'eu-west-1' }), {
    now: () => clock.t,
    sleep: async (ms) => {
      clock.t += ms;
    },
    pollInitialMs: 1_000,
    pollMaxMs: 5_000,
  });
  const deps = { nodes, now: () => new Date(clock.t), log: (m: string) => logs.push(m) };
  return { clock, deps, logs };
}

async function started(deps: ReturnType<typeof setup>['deps'], timeoutMs = HOUR): Promise<LongCommand> {
  ssmMock.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
  ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
  const p = await startLongCommand(
    deps,
    NODE,
    'rejoin',
    { METHOD: 'basebackup' },
    { timeoutMs, requestId: 'ex:rejoin:pg1' },
  );
  ssmMock.reset();
  return p.command;
}

beforeEach(() => {
  ssmMock.reset();
});

describe('startLongCommand', () => {
  it('starts the command once and returns what the workflow state keeps: command id, attempt, deadline', async () => {
    // Prepare
    const { deps } = setup();
    ssmMock.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    // Act
    const p = await startLongCommand(
      deps,
      NODE,
      'rejoin',
      { METHOD: 'auto' },
      { timeoutMs: HOUR, requestId: 'ex:rejoin:pg1' },
    );

    // Assess
    expect(p).toEqual({
      running: true,
      status: 'Started',
      elapsedMs: 0,
      command: {
        node: 'pg1',
        instanceId: INSTANCE,
        action: 'rejoin',
        params: { METHOD: 'auto' },
        commandId: 'cmd-1',
        requestId: 'ex:rejoin:pg1',
        attempt: 1,
        maxAttempts: 3,
        startedAt: '2026-01-05T10:00:00.000Z',
        deadline: '2026-01-05T11:00:00.000Z',
        failures: [],
      },
    });
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      Comment: startComment('rejoin', 'ex:rejoin:pg1'),
      Parameters: { METHOD: ['auto'], executionTimeout: ['3600'] },
    });
  });

  it('a retried start of the same request gets the command already sent instead of a second rewind', async () => {
    // Prepare
    const { deps } = setup();
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        { CommandId: 'cmd-1', Status: 'InProgress', Comment: startComment('rejoin', 'ex:rejoin:pg1') },
      ],
    });

    // Act
    const p = await startLongCommand(deps, NODE, 'rejoin', {}, { timeoutMs: HOUR, requestId: 'ex:rejoin:pg1' });

    // Assess
    expect(p).toMatchObject({ running: true, status: 'AlreadyStarted', command: { commandId: 'cmd-1', attempt: 1 } });
    expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand);
  });
});

describe('pollLongCommand', () => {
  it('waits up to the poll wait and returns the progress while the command runs', async () => {
    // Prepare
    const { deps, clock } = setup();
    const c = await started(deps);
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' });
    const t0 = clock.t;

    // Act
    const p = await pollLongCommand(deps, c, 300_000);

    // Assess
    expect(p).toEqual({ running: true, command: c, elapsedMs: 300_000, status: 'InProgress' });
    expect(clock.t - t0).toBe(300_000);
  });

  it('returns the parsed result as soon as the command has ended', async () => {
    // Prepare
    const { deps, clock } = setup();
    const c = await started(deps);
    clock.t += 1_200_000; // 20 minutes of polls already
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolvesOnce({ Status: 'InProgress' })
      .resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'cloning\nresult method=basebackup\n' });

    // Act
    const p = await pollLongCommand(deps, c, 300_000);

    // Assess
    expect(p).toEqual({ running: false, command: c, result: { method: 'basebackup' }, elapsedMs: 1_201_000 });
  });

  it('past the deadline cancels the command and fails naming the node and the time it ran', async () => {
    // Prepare
    const { deps, clock } = setup();
    const c = await started(deps);
    clock.t += HOUR - 100_000; // 100 s left: the poll waits no longer than that
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' });
    ssmMock.on(CancelCommandCommand).resolves({});
    const t0 = clock.t;

    // Act
    const poll = pollLongCommand(deps, c, 300_000);

    // Assess
    await expect(poll).rejects.toMatchObject({
      name: 'NodeCommandDeadline',
      message:
        'rejoin on pg1 did not finish within 3600.0 s: still running after 3600.0 s ' +
        '(command cmd-1, attempt 1, status InProgress); cancelled',
    });
    expect(clock.t - t0).toBe(100_000);
    expect(ssmMock).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'cmd-1', InstanceIds: [INSTANCE] });
  });

  it('starts a failed command again as the next attempt under the same deadline', async () => {
    // Prepare
    const { deps, clock, logs } = setup();
    const c = await started(deps);
    clock.t += 60_000;
    ssmMock.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      ResponseCode: 1,
      StandardErrorContent: 'starting\npg_rewind: fatal: could not connect to server\n',
    });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [{ CommandId: 'cmd-1', Status: 'Failed', Comment: startComment('rejoin', 'ex:rejoin:pg1') }],
    });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });

    // Act
    const p = await pollLongCommand(deps, c, 300_000);

    // Assess
    expect(p).toMatchObject({
      running: true,
      status: 'Restarted',
      command: {
        commandId: 'cmd-2',
        attempt: 2,
        deadline: c.deadline,
        failures: ['pg_rewind: fatal: could not connect to server'],
      },
    });
    const sent = ssmMock.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(sent.Comment).toBe(startComment('rejoin', 'ex:rejoin:pg1#2'));
    // The time left until the deadline, not a fresh hour.
    expect(sent.Parameters?.executionTimeout).toEqual(['3540']);
    expect(logs.some((l) => l.includes('rejoin on pg1 failed (attempt 1 of 3)'))).toBe(true);
  });

  it('fails with the last words of every attempt when the last attempt fails', async () => {
    // Prepare
    const { deps } = setup();
    const c: LongCommand = { ...(await started(deps)), attempt: 3, failures: ['first', 'second'] };
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', ResponseCode: 2, StandardErrorContent: '' });

    // Act
    const poll = pollLongCommand(deps, c, 1_000);

    // Assess
    await expect(poll).rejects.toMatchObject({
      name: 'NodeCommandFailed',
      message: 'rejoin on pg1 failed: exit 2 (attempt 3 of 3, after 0.0 s; earlier attempts: first | second)',
    });
    expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('refuses a poll wait beyond what the poll Task allows', async () => {
    // Prepare
    const { deps } = setup();
    const c = await started(deps);

    // Act
    const poll = pollLongCommand(deps, c, MAX_POLL_WAIT_MS + 1);

    // Assess
    await expect(poll).rejects.toThrow(/PGWARDEN_COMMAND_POLL_WAIT_MS\) must be 0 to 360000 ms/);
    expect(ssmMock).not.toHaveReceivedAnyCommand();
  });
});

describe('startedCommand', () => {
  it.each([
    [undefined, 'expected an object, got undefined'],
    [{ running: true }, 'no "command"'],
    [{ command: { node: 'pg1' } }, 'command.instanceId must be a non-empty string'],
    [
      {
        command: {
          node: 'pg1',
          instanceId: 'i-1',
          action: 'rejoin',
          commandId: 'c',
          requestId: 'r',
          attempt: 1,
          maxAttempts: 3,
          startedAt: 'yesterday',
          deadline: '2026-01-05T11:00:00.000Z',
          params: {},
        },
      },
      'command.startedAt must be an ISO 8601 time, got "yesterday"',
    ],
  ])('refuses %j as InvalidInput: %s', (input, why) => {
    expect(() => startedCommand(input, '$.rewind')).toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: `$.rewind holds no started node command: ${why}` }),
    );
  });
});
