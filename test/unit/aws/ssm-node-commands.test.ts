import {
  CancelCommandCommand,
  type CommandInvocationStatus,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { SsmNodeCommands } from '../../../functions/lib/aws/ssm-node-commands';

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
