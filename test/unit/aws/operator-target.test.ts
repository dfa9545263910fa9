/**
 * The CLI's AWS target against the AWS SDK (aws-sdk-client-mock): workflow commands call
 * StartExecution with the trigger's own name and input, follow the execution history page by page,
 * and exit by the execution's outcome; status reads alarms with DescribeAlarms; a dry run invokes the
 * deployed operator Lambda. The topology is an in-memory TopologyStore handed in through the port.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { WORKFLOWS } from '../../../functions/lib/env';
import { TopologyConflictError, type TopologyStore } from '../../../functions/lib/ports';
import type { Topology } from '../../../functions/lib/topology';
import { runOperator, type Io } from '../../../infra/local/operator/commands';
import { AwsTarget } from '../../../infra/local/operator/aws-target';

const sfn = mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);
const lambda = mockClient(LambdaClient);

const SM = (wf: string) => `arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-main-${wf}`;
const EXEC = (wf: string, name: string) =>
  `arn:aws:states:eu-west-1:123456789012:execution:pgwarden-main-${wf}:${name}`;

class MemoryTopology implements TopologyStore {
  constructor(public t: Topology) {}
  async get() {
    return structuredClone(this.t);
  }
  async put(n: Topology) {
    if (n.version !== this.t.version + 1) throw new TopologyConflictError(n.version - 1, this.t.version);
    this.t = structuredClone(n);
  }
}

function topology(over: Partial<Topology> = {}): MemoryTopology {
  return new MemoryTopology({
    cluster: 'main',
    version: 5,
    primary: 'pg1',
    timeline: 4,
    paused: false,
    syncQuorum: 1,
    failoverEpoch: 2,
    nodes: [
      { name: 'pg1', host: '10.40.1.10', port: 5432, backendId: 0, role: 'primary', instanceId: 'i-1' },
      { name: 'pg2', host: '10.40.2.10', port: 5432, backendId: 1, role: 'standby', instanceId: 'i-2' },
    ],
    pgpools: [],
    history: [],
    ...over,
  });
}

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const x: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    interactive: false,
    ask: () => Promise.reject(new Error('no prompt expected')),
  };
  return { io: x, out, err, json: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function run(store: MemoryTopology, args: string[], o = io()) {
  const target = new AwsTarget({ cluster: 'main', region: 'eu-west-1', stage: 'prod', topology: store }, 0);
  const [cmd, ...rest] = args;
  return { code: runOperator(cmd, [...rest, '--aws'], o.io, () => target), ...o };
}

const t0 = new Date('2026-12-03T08:00:00Z').getTime();
let id = 0;
function ev(type: string, prev: number, extra: Partial<HistoryEvent> = {}): HistoryEvent {
  id++;
  return {
    id,
    previousEventId: prev,
    type: type as HistoryEvent['type'],
    timestamp: new Date(t0 + id * 100),
    ...extra,
  };
}
const entered = (type: string, name: string, prev: number) =>
  ev(type, prev, { stateEnteredEventDetails: { name, input: '{}' } });
const exited = (type: string, name: string, prev: number) =>
  ev(type, prev, { stateExitedEventDetails: { name, output: '{}' } });

beforeEach(() => {
  sfn.reset();
  cloudwatch.reset();
  lambda.reset();
  id = 0;
  // Two pages of state machines, another cluster's among them.
  sfn
    .on(ListStateMachinesCommand)
    .resolvesOnce({
      stateMachines: [
        { name: 'pgwarden-other-failover', stateMachineArn: SM('x'), type: 'STANDARD', creationDate: new Date() },
        ...WORKFLOWS.slice(0, 3).map((w) => ({
          name: `pgwarden-main-${w}`,
          stateMachineArn: SM(w),
          type: 'STANDARD' as const,
          creationDate: new Date(),
        })),
      ],
      nextToken: 'sm2',
    })
    .resolvesOnce({
      stateMachines: WORKFLOWS.slice(3).map((w) => ({
        name: `pgwarden-main-${w}`,
        stateMachineArn: SM(w),
        type: 'STANDARD' as const,
        creationDate: new Date(),
      })),
    });
  sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
    executionArn: input.stateMachineArn.replace(':stateMachine:', ':execution:') + `:${input.name}`,
    startDate: new Date(),
  }));
});

describe('workflow commands start executions as the triggers do', () => {
  test('switchover: StartExecution of the switchover machine with the trigger name and input, lease taken', async () => {
    // Prepare
    const store = topology();

    // Act
    const r = run(store, ['switchover', '--to', 'pg2', '--reason', 'kernel patch', '--yes', '--no-wait', '--json']);

    // Assess
    expect(await r.code).toBe(0);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const { stateMachineArn, name, input } = calls[0].args[0].input;
    expect(stateMachineArn).toBe(SM('switchover'));
    expect(name).toMatch(/^main-switchover-\d{17}$/);
    expect(JSON.parse(input!)).toEqual({
      cluster: 'main',
      workflow: 'switchover',
      executionName: name,
      at: expect.any(String),
      reason: 'kernel patch',
      to: 'pg2',
    });
    expect(store.t.lease).toMatchObject({ workflow: 'switchover', execution: name });
    expect(r.json()).toEqual([
      {
        event: 'started',
        workflow: 'switchover',
        executionName: name,
        executionArn: EXEC('switchover', name!),
        started: true,
      },
    ]);
  });

  test('failover: the execution is named by cluster, timeline, suspect and epoch', async () => {
    const r = run(topology(), ['failover', '--yes', '--no-wait']);
    expect(await r.code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: SM('failover'),
      name: 'main-failover-tl4-pg1-e2',
    });
    expect(r.out[0]).toBe('failover started: main-failover-tl4-pg1-e2');
  });

  test('a refusal before the start (automation paused) exits 1 and calls no StartExecution', async () => {
    const store = topology({ paused: true, pausedReason: 'upgrade' });
    const r = run(store, ['switchover', '--yes']);
    expect(await r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/refused: switchover refused: automation is paused \(upgrade\)/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(store.t.version).toBe(5);
  });

  test('without --yes and without a terminal nothing is called at all', async () => {
    const r = run(topology(), ['failover']);
    expect(await r.code).toBe(2);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  test('pause writes the topology as the operator trigger does, and starts nothing', async () => {
    const store = topology();
    const r = run(store, ['pause', '--reason', 'upgrade']);
    expect(await r.code).toBe(0);
    expect(store.t).toMatchObject({ version: 6, paused: true, pausedReason: 'upgrade' });
    expect(store.t.history.at(-1)).toMatchObject({ kind: 'automation-paused', detail: { reason: 'upgrade' } });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

describe('following an execution', () => {
  function history() {
    const p1 = [
      ev('ExecutionStarted', 0),
      entered('TaskStateEntered', 'Precheck', 1),
      ev('LambdaFunctionScheduled', 2),
    ];
    const p2 = [ev('LambdaFunctionSucceeded', 3), exited('TaskStateExited', 'Precheck', 4)];
    const p3 = [
      entered('TaskStateEntered', 'SwitchPrimary', 5),
      ev('LambdaFunctionScheduled', 6),
      ev('LambdaFunctionFailed', 7, { lambdaFunctionFailedEventDetails: { error: 'Error', cause: 'timeout' } }),
      ev('LambdaFunctionScheduled', 8),
      ev('LambdaFunctionSucceeded', 9),
      exited('TaskStateExited', 'SwitchPrimary', 10),
      entered('SucceedStateEntered', 'SwitchoverComplete', 11),
      exited('SucceedStateExited', 'SwitchoverComplete', 12),
      ev('ExecutionSucceeded', 13),
    ];
    return { p1, p2, p3 };
  }

  test('each step is reported as it finishes, page after page, and SUCCEEDED exits 0', async () => {
    // Prepare: the first read returns a page and a token; reading on from that token finds the
    // execution still running, then (read again from the same token) finished.
    const { p1, p2, p3 } = history();
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: p1, nextToken: 'page2' })
      .resolvesOnce({ events: p2 })
      .resolvesOnce({ events: [...p2, ...p3] });
    sfn.on(DescribeExecutionCommand).callsFake((i: { executionArn: string }) => ({
      executionArn: i.executionArn,
      name: i.executionArn.split(':').pop(),
      stateMachineArn: SM('switchover'),
      status: 'SUCCEEDED',
      startDate: new Date(t0),
      stopDate: new Date(t0 + 1400),
      output: JSON.stringify({ record: { summary: 'pg2 is the primary on timeline 5' } }),
    }));

    // Act
    const r = run(topology(), ['switchover', '--yes', '--json']);

    // Assess
    expect(await r.code).toBe(0);
    const tokens = sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input.nextToken);
    expect(tokens).toEqual([undefined, 'page2', 'page2']);
    const lines = r.json();
    expect(lines.map((l) => l.event)).toEqual(['started', 'step', 'step', 'step', 'done']);
    expect(lines.filter((l) => l.event === 'step')).toEqual([
      { event: 'step', state: 'Precheck', durationMs: 300, attempts: 1 },
      { event: 'step', state: 'SwitchPrimary', durationMs: 500, attempts: 2 },
      { event: 'step', state: 'SwitchoverComplete', durationMs: 100, attempts: 1 },
    ]);
    expect(lines[4]).toMatchObject({ outcome: 'succeeded', reason: 'pg2 is the primary on timeline 5' });
  });

  test.each([
    ['SwitchoverRefused', '{"errorMessage":"switchover refused: pg2 lags 99 MB"}', 'refused', /pg2 lags 99 MB/],
    ['States.TaskFailed', 'pg1 did not stop', 'failed', /States.TaskFailed: pg1 did not stop/],
  ])('a FAILED execution (%s) exits 1 with the reason', async (error, cause, outcome, reason) => {
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [ev('ExecutionStarted', 0), ev('ExecutionFailed', 1, { executionFailedEventDetails: { error, cause } })],
    });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXEC('switchover', 'x'),
      stateMachineArn: SM('switchover'),
      status: 'FAILED',
      startDate: new Date(t0),
      stopDate: new Date(t0 + 900),
      error,
      cause,
    });
    const r = run(topology(), ['switchover', '--yes', '--json']);
    expect(await r.code).toBe(1);
    const done = r.json().at(-1)!;
    expect(done).toMatchObject({ event: 'done', outcome });
    expect(String(done.reason)).toMatch(reason);
  });

  test('a failover that found nothing to do (false alarm) exits 1', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [ev('ExecutionStarted', 0), ev('ExecutionSucceeded', 1)] });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXEC('failover', 'main-failover-tl4-pg1-e2'),
      stateMachineArn: SM('failover'),
      status: 'SUCCEEDED',
      startDate: new Date(t0),
      output: JSON.stringify({ assess: { decision: 'false-alarm', reason: 'pg1 answers as a writable primary' } }),
    });
    const r = run(topology(), ['failover', '--yes']);
    expect(await r.code).toBe(1);
    expect(r.out.at(-1)).toBe(
      'failover main-failover-tl4-pg1-e2: no action: false-alarm: pg1 answers as a writable primary',
    );
  });
});

describe('status, history and dry run', () => {
  test('status: the topology, every page of the cluster alarms and the recent executions', async () => {
    cloudwatch
      .on(DescribeAlarmsCommand)
      .resolvesOnce({
        MetricAlarms: [
          { AlarmName: 'pgwarden-main-primary-down', StateValue: 'ALARM', StateReason: 'Threshold Crossed' },
        ],
        NextToken: 'a2',
      })
      .resolvesOnce({ MetricAlarms: [{ AlarmName: 'pgwarden-main-lag-high', StateValue: 'OK', StateReason: '' }] });
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('failover') }).resolves({
      executions: [
        {
          executionArn: EXEC('failover', 'f1'),
          stateMachineArn: SM('failover'),
          name: 'f1',
          status: 'SUCCEEDED',
          startDate: new Date(t0),
        },
      ],
    });

    const r = run(topology(), ['status', '--json']);

    expect(await r.code).toBe(0);
    expect(cloudwatch).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNamePrefix: 'pgwarden-main-' });
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input.NextToken)).toEqual([
      undefined,
      'a2',
    ]);
    const s = JSON.parse(r.out.join('\n'));
    expect(s).toMatchObject({ cluster: 'main', primary: 'pg1', timeline: 4, paused: false });
    expect(s.alarms).toEqual([
      { name: 'pgwarden-main-lag-high', state: 'OK', reason: '' },
      { name: 'pgwarden-main-primary-down', state: 'ALARM', reason: 'Threshold Crossed' },
    ]);
    expect(s.executions).toEqual([expect.objectContaining({ name: 'f1', workflow: 'failover', status: 'SUCCEEDED' })]);
  });

  test('history NAME finds the execution on its state machine and lists its steps', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC('rejoin', 'r1') }).resolves({
      executionArn: EXEC('rejoin', 'r1'),
      stateMachineArn: SM('rejoin'),
      name: 'r1',
      status: 'SUCCEEDED',
      startDate: new Date(t0),
      stopDate: new Date(t0 + 5000),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        ev('ExecutionStarted', 0),
        entered('TaskStateEntered', 'Precheck', 1),
        exited('TaskStateExited', 'Precheck', 2),
      ],
    });
    const r = run(topology(), ['history', 'r1']);
    expect(await r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/rejoin\s+SUCCEEDED r1 {2}5000 ms\n {2}✓ Precheck\s+100 ms/);
  });

  test('--dry-run invokes the deployed operator Lambda with dryRun and exits by its verdict', async () => {
    const answer = (body: unknown, FunctionError?: string) => ({
      StatusCode: 200,
      FunctionError,
      Payload: new TextEncoder().encode(JSON.stringify(body)) as never,
    });
    lambda
      .on(InvokeCommand)
      .resolvesOnce(
        answer({
          action: 'dry-run',
          workflow: 'switchover',
          wouldProceed: true,
          reason: 'every precheck passed',
          executionName: 'n',
        }),
      )
      .resolvesOnce(
        answer({ errorType: 'Refused', errorMessage: 'switchover refused: automation is paused (x)' }, 'Unhandled'),
      );

    const ok = run(topology(), ['switchover', '--to', 'pg2', '--dry-run']);
    expect(await ok.code).toBe(0);
    expect(ok.out[0]).toMatch(/would go ahead: every precheck passed/);
    const call = lambda.commandCalls(InvokeCommand)[0].args[0].input;
    expect(call.FunctionName).toBe('pgwarden-prod-operator');
    expect(JSON.parse(new TextDecoder().decode(call.Payload as Uint8Array))).toEqual({
      action: 'switchover',
      to: 'pg2',
      dryRun: true,
    });

    const refused = run(topology(), ['switchover', '--dry-run']);
    expect(await refused.code).toBe(1);
    expect(refused.err[0]).toMatch(/refused: switchover refused: automation is paused/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});
