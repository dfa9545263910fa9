import {
  CancelCommandCommand,
  type CommandInvocationStatus,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { SsmNodeCommands, startComment } from '../../../functions/lib/aws/ssm-node-commands';

const ssmMock = mockClient(SSMClient);
const INSTANCE = 'i-0123456789abcdef0';

/** A virtual clock: sleep advances it instantly, so polling tests take no real time. */
function fakeClock() {
  const clock = { t: 1_000_000, sleeps: [] as number[] };
  return {
    clock,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
  };
}

function adapter(extra: ConstructorParameters<typeof SsmNodeCommands>[1] = {}) {
  const { clock, now, sleep } = fakeClock();
  const nodes = new SsmNodeCommands(new SSMClient({ region: 'eu-west-1' }), { now, sleep, ...extra });
  return { nodes, clock };
}

beforeEach(() => {
  ssmMock.reset();
});

describe('SsmNodeCommands', () => {
  it('sends the action document to the instance with each parameter as a one-element list', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'ok' });
    const { nodes } = adapter({ cloudWatchLogGroup: '/pgwarden/node-commands' });

    // Act
    const result = await nodes.run(
      INSTANCE,
      'promote',
      { PGDATA: '/var/lib/pgsql/15/data', TIMELINE: '3' },
      { timeoutMs: 90_000 },
    );

    // Assess
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      DocumentName: 'pgwarden-promote',
      InstanceIds: [INSTANCE],
      Parameters: { PGDATA: ['/var/lib/pgsql/15/data'], TIMELINE: ['3'] },
      TimeoutSeconds: 90,
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/pgwarden/node-commands' },
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetCommandInvocationCommand, {
      CommandId: 'cmd-1',
      InstanceId: INSTANCE,
    });
    expect(result).toMatchObject({ ok: true, exitCode: 0, stdout: 'ok', stderr: '' });
  });

  it('uses the configured document prefix, no CloudWatch output by default, and at least the 30 s SSM minimum', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0 });
    const { nodes } = adapter({ documentPrefix: 'acme-pg' });

    // Act
    await nodes.run(INSTANCE, 'pgpool-detach', { NODE_ID: '0' }, { timeoutMs: 5_000 });

    // Assess
    const input = ssmMock.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(input.DocumentName).toBe('acme-pg-pgpool-detach');
    expect(input.TimeoutSeconds).toBe(30);
    expect(input.CloudWatchOutputConfig).toBeUndefined();
  });

  it('retries InvocationDoesNotExist right after sending and keeps polling while Pending / InProgress / Delayed', async () => {
    // Prepare
    const notYet = new InvocationDoesNotExist({ $metadata: {}, message: 'not yet' });
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejectsOnce(notYet)
      .rejectsOnce(notYet)
      .resolvesOnce({ Status: 'Pending' })
      .resolvesOnce({ Status: 'InProgress' })
      .resolvesOnce({ Status: 'Delayed' })
      .resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'promoted' });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-3' } });
    const { nodes, clock } = adapter({ pollInitialMs: 100, pollMaxMs: 400 });

    // Act
    const result = await nodes.run(INSTANCE, 'promote', {});

    // Assess
    expect(result.ok).toBe(true);
    expect(result.stdout).toBe('promoted');
    expect(ssmMock).toHaveReceivedCommandTimes(GetCommandInvocationCommand, 6);
    expect(clock.sleeps).toEqual([100, 200, 400, 400, 400, 400]);
    expect(result.durationMs).toBe(1_900);
  });

  it("by default polls a node command's result at most every 250 ms (a failover step waits on it)", async () => {
    // Arrange
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolvesOnce({ Status: 'InProgress' })
      .resolvesOnce({ Status: 'InProgress' })
      .resolvesOnce({ Status: 'InProgress' })
      .resolvesOnce({ Status: 'InProgress' })
      .resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'fenced' });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-fast' } });
    const { nodes, clock } = adapter();

    // Act
    const result = await nodes.run(INSTANCE, 'fence', {});

    // Assess
    expect(result.ok).toBe(true);
    expect(clock.sleeps).toEqual([100, 200, 250, 250, 250]);
  });

  it.each<CommandInvocationStatus>(['Failed', 'Cancelled', 'TimedOut', 'Cancelling'])(
    'reports %s as not ok with the exit code and both outputs',
    async (status) => {
      // Prepare
      ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-4' } });
      ssmMock.on(GetCommandInvocationCommand).resolves({
        Status: status,
        ResponseCode: 3,
        StandardOutputContent: 'checking',
        StandardErrorContent: 'pg_ctl: server is not running',
      });
      const { nodes } = adapter();

      // Act
      const result = await nodes.run(INSTANCE, 'fence', {});

      // Assess
      expect(result).toMatchObject({
        ok: false,
        exitCode: 3,
        stdout: 'checking',
        stderr: 'pg_ctl: server is not running',
      });
    },
  );

  it('reports exit code -1 when SSM gives no response code', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-5' } });
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Cancelled' });
    const { nodes } = adapter();

    // Act
    const result = await nodes.run(INSTANCE, 'stop', {});

    // Assess
    expect(result).toMatchObject({ ok: false, exitCode: -1 });
  });

  it('times out with an error naming instance, action and command id, and cancels the command', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-slow' } });
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' });
    ssmMock.on(CancelCommandCommand).resolves({});
    const { nodes, clock } = adapter({ pollInitialMs: 100, pollMaxMs: 1_000 });
    const started = clock.t;

    // Act
    const run = nodes.run(INSTANCE, 'promote', {}, { timeoutMs: 3_000 });

    // Assess
    await expect(run).rejects.toThrow(
      `node command "promote" on instance ${INSTANCE} did not finish within 3000 ms (SSM command cmd-slow, last status InProgress)`,
    );
    expect(clock.t - started).toBe(3_000);
    expect(ssmMock).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'cmd-slow', InstanceIds: [INSTANCE] });
  });

  it('still reports the timeout when cancelling fails', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-6' } });
    ssmMock.on(GetCommandInvocationCommand).rejects(new InvocationDoesNotExist({ $metadata: {}, message: 'never' }));
    ssmMock.on(CancelCommandCommand).rejects(new Error('cannot cancel'));
    const { nodes } = adapter();

    // Act
    const run = nodes.run(INSTANCE, 'fence', {}, { timeoutMs: 500 });

    // Assess
    await expect(run).rejects.toThrow(/SSM command cmd-6, last status NotYetVisible/);
  });

  it('rejects when the command cannot be delivered, naming instance and action', async () => {
    // Prepare
    ssmMock
      .on(SendCommandCommand)
      .rejects(new InvalidInstanceId({ $metadata: {}, message: 'Instances not in a valid state' }));
    const { nodes } = adapter();

    // Act
    const run = nodes.run(INSTANCE, 'rejoin', {});

    // Assess
    await expect(run).rejects.toThrow(
      `could not send node command "rejoin" to instance ${INSTANCE}: InvalidInstanceId: Instances not in a valid state`,
    );
    expect(ssmMock).not.toHaveReceivedCommand(GetCommandInvocationCommand);
  });

  it('rejects with context when polling fails for another reason', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-7' } });
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    ssmMock.on(GetCommandInvocationCommand).rejects(denied);
    const { nodes } = adapter();

    // Act
    const run = nodes.run(INSTANCE, 'checkpoint', {});

    // Assess
    await expect(run).rejects.toThrow(
      `polling node command "checkpoint" on instance ${INSTANCE} (SSM command cmd-7) failed: AccessDeniedException: not authorized`,
    );
  });
});

describe('SsmNodeCommands.start', () => {
  it('sends the document with executionTimeout set to the command timeout, a short delivery timeout and the request in the Comment', async () => {
    // Prepare
    ssmMock.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-long' } });
    const { nodes, clock } = adapter({ cloudWatchLogGroup: '/pgwarden/node-commands' });

    // Act
    const started = await nodes.start(
      INSTANCE,
      'rejoin',
      { PRIMARY_HOST: '10.0.1.5', METHOD: 'auto' },
      { timeoutMs: 3_600_000, requestId: 'exec-1:rejoin:pg1' },
    );

    // Assess
    expect(started).toEqual({ commandId: 'cmd-long', reused: false });
    expect(ssmMock).toHaveReceivedCommandWith(ListCommandInvocationsCommand, {
      InstanceId: INSTANCE,
      Filters: [
        { key: 'DocumentName', value: 'pgwarden-rejoin' },
        // The delivery window (300 s), the command's timeout and a minute before now: 1_000 s - 3_960 s.
        { key: 'InvokedAfter', value: new Date(clock.t - 3_960_000).toISOString().replace(/\.\d{3}Z$/, 'Z') },
      ],
    });
    const input = ssmMock.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(input).toMatchObject({
      DocumentName: 'pgwarden-rejoin',
      InstanceIds: [INSTANCE],
      Parameters: { PRIMARY_HOST: ['10.0.1.5'], METHOD: ['auto'], executionTimeout: ['3600'] },
      TimeoutSeconds: 300,
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/pgwarden/node-commands' },
    });
    expect(input.Comment).toBe(startComment('rejoin', 'exec-1:rejoin:pg1'));
    expect(input.Comment).toMatch(/^pgwarden rejoin req=[0-9a-f]{32}$/);
    expect(ssmMock).not.toHaveReceivedCommand(GetCommandInvocationCommand);
  });

  it('returns the command an earlier start of the same request sent, whatever its status, and sends nothing', async () => {
    // Prepare
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        { CommandId: 'cmd-other-done', Status: 'Success', Comment: startComment('rejoin', 'exec-0:rejoin:pg1') },
        { CommandId: 'cmd-mine', Status: 'InProgress', Comment: startComment('rejoin', 'exec-1:rejoin:pg1') },
      ],
    });
    const { nodes } = adapter();

    // Act
    const started = await nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs: 600_000, requestId: 'exec-1:rejoin:pg1' });

    // Assess
    expect(started).toEqual({ commandId: 'cmd-mine', reused: true });
    expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('finds the earlier start on a later page of invocations', async () => {
    // Prepare
    ssmMock
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({ CommandInvocations: [{ CommandId: 'cmd-a', Status: 'Failed', Comment: 'x' }], NextToken: 't2' })
      .resolvesOnce({
        CommandInvocations: [{ CommandId: 'cmd-b', Status: 'Success', Comment: startComment('rejoin', 'r#2') }],
      });
    const { nodes } = adapter();

    // Act
    const started = await nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs: 60_000, requestId: 'r#2' });

    // Assess
    expect(started).toEqual({ commandId: 'cmd-b', reused: true });
    expect(ssmMock.commandCalls(ListCommandInvocationsCommand)[1].args[0].input.NextToken).toBe('t2');
  });

  it.each<CommandInvocationStatus>(['Pending', 'InProgress', 'Delayed'])(
    'refuses to start a second %s command of the action on the instance from another request',
    async (status) => {
      // Prepare
      ssmMock.on(ListCommandInvocationsCommand).resolves({
        CommandInvocations: [{ CommandId: 'cmd-running', Status: status, Comment: startComment('rejoin', 'exec-0') }],
      });
      const { nodes } = adapter();

      // Act
      const start = nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs: 60_000, requestId: 'exec-1' });

      // Assess
      await expect(start).rejects.toMatchObject({
        name: 'NodeCommandBusy',
        message: `rejoin is already running on instance ${INSTANCE} (command cmd-running, another request): not started twice`,
      });
      expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand);
    },
  );

  it('starts again when the earlier commands of other requests have ended', async () => {
    // Prepare
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        { CommandId: 'cmd-failed', Status: 'Failed', Comment: startComment('rejoin', 'exec-0') },
        { CommandId: 'cmd-cancelled', Status: 'Cancelled', Comment: startComment('rejoin', 'exec-0#2') },
      ],
    });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-new' } });
    const { nodes } = adapter();

    // Act
    const started = await nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs: 60_000, requestId: 'exec-1' });

    // Assess
    expect(started).toEqual({ commandId: 'cmd-new', reused: false });
  });

  it.each([0, -1, Number.NaN, 172_800_001])('rejects a timeoutMs of %p clearly, sending nothing', async (timeoutMs) => {
    // Prepare
    const { nodes } = adapter();

    // Act
    const start = nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs });

    // Assess
    await expect(start).rejects.toThrow(
      `start of node command "rejoin" on instance ${INSTANCE}: timeoutMs must be a number of ms in 1..172800000`,
    );
    expect(ssmMock).not.toHaveReceivedAnyCommand();
  });

  it('rejects naming instance and action when the command cannot be sent or the earlier ones cannot be listed', async () => {
    // Prepare
    ssmMock.on(ListCommandInvocationsCommand).resolves({});
    ssmMock.on(SendCommandCommand).rejects(new InvalidInstanceId({ $metadata: {}, message: 'not registered' }));
    const { nodes } = adapter();

    // Act
    const send = nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs: 60_000 });

    // Assess
    await expect(send).rejects.toThrow(
      `could not send node command "rejoin" to instance ${INSTANCE}: InvalidInstanceId: not registered`,
    );

    // Prepare
    ssmMock.reset();
    ssmMock.on(ListCommandInvocationsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));

    // Act
    const list = nodes.start(INSTANCE, 'rejoin', {}, { timeoutMs: 60_000 });

    // Assess
    await expect(list).rejects.toThrow(
      `could not send node command "rejoin" to instance ${INSTANCE}: AccessDenied: denied`,
    );
    expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand);
  });
});

describe('SsmNodeCommands.poll', () => {
  it('treats InvocationDoesNotExist right after the start as pending and returns "running" once the wait is over', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).rejects(new InvocationDoesNotExist({ $metadata: {}, message: 'not yet' }));
    const { nodes, clock } = adapter({ pollInitialMs: 100, pollMaxMs: 400 });
    const t0 = clock.t;

    // Act
    const r = await nodes.poll(INSTANCE, 'cmd-long', 1_000);

    // Assess
    expect(r).toEqual({ running: true, status: 'NotYetVisible' });
    expect(clock.t - t0).toBe(1_000);
    expect(clock.sleeps).toEqual([100, 200, 400, 300]);
    expect(ssmMock).toHaveReceivedCommandTimes(GetCommandInvocationCommand, 5);
  });

  it('returns early with the result when the command ends during the wait', async () => {
    // Prepare
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolvesOnce({ Status: 'InProgress' })
      .resolvesOnce({ Status: 'InProgress' })
      .resolves({
        Status: 'Success',
        ResponseCode: 0,
        StandardOutputContent: 'result method=basebackup',
        ExecutionStartDateTime: '2026-01-05T10:00:00.000Z',
        ExecutionEndDateTime: '2026-01-05T10:25:30.500Z',
      });
    const { nodes, clock } = adapter({ pollInitialMs: 1_000, pollMaxMs: 5_000 });
    const t0 = clock.t;

    // Act
    const r = await nodes.poll(INSTANCE, 'cmd-long', 300_000);

    // Assess
    expect(r).toEqual({
      ok: true,
      exitCode: 0,
      stdout: 'result method=basebackup',
      stderr: '',
      durationMs: 1_530_500,
    });
    expect(clock.t - t0).toBe(3_000);
    expect(ssmMock).toHaveReceivedCommandWith(GetCommandInvocationCommand, {
      CommandId: 'cmd-long',
      InstanceId: INSTANCE,
    });
  });

  it('looks once with a wait of 0 and reports the status of a command still running', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Delayed' });
    const { nodes, clock } = adapter();

    // Act
    const r = await nodes.poll(INSTANCE, 'cmd-long', 0);

    // Assess
    expect(r).toEqual({ running: true, status: 'Delayed' });
    expect(clock.sleeps).toEqual([]);
    expect(ssmMock).toHaveReceivedCommandTimes(GetCommandInvocationCommand, 1);
  });

  it.each<CommandInvocationStatus>(['Failed', 'TimedOut', 'Cancelled'])(
    'reports a %s command as not ok with its exit code and output',
    async (status) => {
      // Prepare
      ssmMock.on(GetCommandInvocationCommand).resolves({
        Status: status,
        ResponseCode: 1,
        StandardErrorContent: 'pg_basebackup: error: could not connect',
      });
      const { nodes } = adapter();

      // Act
      const r = await nodes.poll(INSTANCE, 'cmd-long', 10_000);

      // Assess
      expect(r).toMatchObject({ ok: false, exitCode: 1, stderr: 'pg_basebackup: error: could not connect' });
    },
  );

  it('rejects with context when GetCommandInvocation fails otherwise, and on bad arguments', async () => {
    // Prepare
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { nodes } = adapter();

    // Act
    const throttled = nodes.poll(INSTANCE, 'cmd-long', 1_000);
    const noId = nodes.poll(INSTANCE, '', 1_000);
    const badWait = nodes.poll(INSTANCE, 'cmd-long', -5);

    // Assess
    await expect(throttled).rejects.toThrow(
      `polling node command on instance ${INSTANCE} (SSM command cmd-long) failed: ThrottlingException: slow down`,
    );
    await expect(noId).rejects.toThrow(`poll of a node command on instance ${INSTANCE}: no command id`);
    await expect(badWait).rejects.toThrow('poll of SSM command cmd-long: waitMs must be a non-negative number, got -5');
  });
});

describe('SsmNodeCommands.cancel', () => {
  it('asks SSM to cancel the command on the instance and ignores a failure to do so', async () => {
    // Prepare
    ssmMock.on(CancelCommandCommand).rejects(new Error('already finished'));
    const { nodes } = adapter();

    // Act
    await nodes.cancel(INSTANCE, 'cmd-long');

    // Assess
    expect(ssmMock).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'cmd-long', InstanceIds: [INSTANCE] });
  });
});
