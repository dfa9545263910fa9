/** What a drill that timed out waiting for its failover says about the executions it saw. */
import { describeExecutions, type ExecutionSummary } from '../../../infra/local/drill';

const exec = (over: Partial<ExecutionSummary>): ExecutionSummary => ({
  name: 'lab-failover-tl1-pg1-e0',
  arn: 'arn:aws:states:us-east-1:000000000000:execution:pgwarden-lab-failover:lab-failover-tl1-pg1-e0',
  workflow: 'failover',
  status: 'SUCCEEDED',
  startedAt: '2026-12-05T08:00:00.000Z',
  durationMs: 8000,
  input: { trigger: { source: 'pgpool' } },
  steps: [],
  ...over,
});

test('none started: says so', () => {
  expect(describeExecutions([])).toBe('none');
});

test('a stopped one gives its outcome and the reason recorded for it', () => {
  const e = exec({
    output: { record: { outcome: 'inconclusive', summary: 'no action: pg2 still connected after 8000 ms' } },
  });
  expect(describeExecutions([e])).toBe(
    'lab-failover-tl1-pg1-e0 SUCCEEDED inconclusive (no action: pg2 still connected after 8000 ms)',
  );
});

test('a running and a failed one are both named, the failure with its error', () => {
  const running = exec({ name: 'a', status: 'RUNNING' });
  const failed = exec({ name: 'b', status: 'FAILED', error: { Error: 'States.Timeout', Cause: 'FenceOldPrimary' } });
  expect(describeExecutions([running, failed])).toBe('a RUNNING; b FAILED (States.Timeout: FenceOldPrimary)');
});
