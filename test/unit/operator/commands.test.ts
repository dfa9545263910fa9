/**
 * The operator commands' arguments, help and confirmation, against a recording target (what the lab
 * and AWS targets do with a request is tested in test/unit/aws/operator-target.test.ts and
 * test/integration/cli-operator.test.ts).
 */
import { runOperator, UsageError, type Io, type TargetOptions } from '../../../infra/local/operator/commands';
import type { ExecutionView, OperatorRequest, OperatorTarget, StepView } from '../../../infra/local/operator/target';

function recorder() {
  const calls: { verb: string; arg?: unknown }[] = [];
  const options: TargetOptions[] = [];
  const target: OperatorTarget = {
    label: 'the test cluster',
    async start(req: OperatorRequest) {
      calls.push({ verb: 'start', arg: req });
      return { workflow: req.action, executionName: 'x-1', executionArn: 'arn:x-1', started: true };
    },
    async dryRun(req) {
      calls.push({ verb: 'dryRun', arg: req });
      return { action: 'dry-run', workflow: 'switchover', wouldProceed: true, reason: 'ok', executionName: 'x' };
    },
    async watch(_s, onStep: (s: StepView) => void): Promise<ExecutionView> {
      calls.push({ verb: 'watch' });
      onStep({ state: 'Precheck', durationMs: 12, attempts: 1 });
      return { name: 'x-1', arn: 'arn:x-1', workflow: 'switchover', status: 'SUCCEEDED', startedAt: '' };
    },
    execution: async () => ({ name: 'x', arn: 'x', workflow: 'switchover', status: 'SUCCEEDED', startedAt: '' }),
    history: async () => [],
    status: async () => {
      throw new Error('not used');
    },
    async setPaused(paused, reason) {
      calls.push({ verb: paused ? 'pause' : 'resume', arg: reason });
    },
  };
  return { target, calls, options, factory: (o: TargetOptions) => (options.push(o), target) };
}

function io(answer?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const asked: string[] = [];
  const x: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    interactive: answer !== undefined,
    ask: async (q) => (asked.push(q), answer ?? ''),
  };
  return { io: x, out, err, asked };
}

test.each(['failover', 'switchover', 'rejoin', 'maintenance', 'scale', 'status', 'pause', 'resume', 'history'])(
  '%s --help prints its own usage and exits 0 without touching the target',
  async (cmd) => {
    const r = recorder();
    const o = io();
    expect(await runOperator(cmd, ['--help'], o.io, r.factory)).toBe(0);
    expect(o.out[0]).toMatch(new RegExp(`^usage: pgwarden ${cmd}`));
    expect(o.out[0]).toMatch(/--aws/);
    expect(r.options).toEqual([]);
  },
);

test('requests are built from the arguments', async () => {
  const cases: [string, string[], OperatorRequest][] = [
    ['switchover', ['--to', 'pg2', '--max-lag-bytes', '1024'], { action: 'switchover', to: 'pg2', maxLagBytes: 1024 }],
    ['rejoin', ['pg1', '--method', 'rewind'], { action: 'rejoin', node: 'pg1', method: 'rewind' }],
    ['maintenance', ['--command', 'dnf update -y'], { action: 'maintenance', command: 'dnf update -y' }],
    ['scale', ['out'], { action: 'scale', direction: 'out' }],
    [
      'scale',
      ['in', 'pg4', '--drain-seconds', '30'],
      { action: 'scale', direction: 'in', node: 'pg4', drainSeconds: 30 },
    ],
    ['failover', ['--reason', 'drill'], { action: 'failover', reason: 'drill' }],
  ];
  for (const [cmd, args, req] of cases) {
    const r = recorder();
    expect(await runOperator(cmd, [...args, '--yes'], io().io, r.factory)).toBe(0);
    expect(r.calls[0]).toEqual({ verb: 'start', arg: req });
  }
});

test.each([
  ['switchover', ['pg2'], /unexpected argument "pg2" \(use --to NODE\)/],
  ['switchover', ['--max-lag-bytes=-1'], /--max-lag-bytes must be a whole number/],
  ['rejoin', [], /rejoin needs exactly one node/],
  ['rejoin', ['pg1', '--method', 'copy'], /--method must be auto, rewind or basebackup/],
  ['scale', ['sideways'], /usage: pgwarden scale out/],
  ['scale', ['out', '--drain-seconds', '5'], /usage: pgwarden scale out/],
  ['scale', ['in', '--drain-seconds', '601'], /--drain-seconds must be a whole number up to 600/],
  ['failover', ['--bogus'], /Unknown option '--bogus'/],
  ['status', ['--region', 'eu-west-1'], /--region names an AWS deployment: add --aws/],
])('%s %j is a usage error with the command help, and nothing is called', async (cmd, args, msg) => {
  const r = recorder();
  const p = runOperator(cmd, cmd === 'status' ? args : [...args, '--yes'], io().io, r.factory);
  await expect(p).rejects.toThrow(UsageError);
  await expect(p).rejects.toThrow(msg);
  await p.catch((e: UsageError) => expect(e.help).toMatch(new RegExp(`^usage: pgwarden ${cmd}`)));
  expect(r.calls).toEqual([]);
});

test('without --yes and without a terminal: refused clearly, exit 2, nothing started', async () => {
  const r = recorder();
  const o = io();
  expect(await runOperator('switchover', ['--to', 'pg2'], o.io, r.factory)).toBe(2);
  expect(o.err[0]).toMatch(
    /refusing to act on the test cluster without confirmation: stdin is not a terminal \(pass --yes\)/,
  );
  expect(r.calls).toEqual([]);
});

test('at a terminal the operator is asked, naming the target; anything but yes aborts', async () => {
  const no = recorder();
  const o1 = io('n');
  expect(await runOperator('switchover', ['--to', 'pg2'], o1.io, no.factory)).toBe(1);
  expect(o1.asked[0]).toMatch(/Switch over the primary to pg2\?[\s\S]*Target: the test cluster\. Proceed\? \[y\/N\]/);
  expect(no.calls).toEqual([]);

  const yes = recorder();
  const o2 = io('y');
  expect(await runOperator('switchover', [], o2.io, yes.factory)).toBe(0);
  expect(yes.calls.map((c) => c.verb)).toEqual(['start', 'watch']);
  expect(o2.out[0]).toBe('switchover started: x-1');
});

test('--no-wait starts and returns; --dry-run needs no confirmation and starts nothing', async () => {
  const r = recorder();
  expect(await runOperator('failover', ['--yes', '--no-wait'], io().io, r.factory)).toBe(0);
  expect(r.calls.map((c) => c.verb)).toEqual(['start']);

  const d = recorder();
  const o = io();
  expect(await runOperator('switchover', ['--dry-run'], o.io, d.factory)).toBe(0);
  expect(d.calls.map((c) => c.verb)).toEqual(['dryRun']);
  expect(o.out[0]).toMatch(/dry run of switchover: would go ahead: ok\nnothing was changed/);
});

test('--aws and its options reach the target factory', async () => {
  const r = recorder();
  await runOperator(
    'pause',
    ['--aws', '--region', 'eu-west-1', '--cluster', 'prod', '--stage', 'live', '--json'],
    io().io,
    r.factory,
  );
  expect(r.options).toEqual([{ aws: true, region: 'eu-west-1', cluster: 'prod', stage: 'live' }]);
  expect(r.calls).toEqual([{ verb: 'pause', arg: 'operator pause' }]);
});
