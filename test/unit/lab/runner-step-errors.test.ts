/**
 * The lab's runner records why a step failed: the Step Functions emulator reports a caught error
 * without its Error and Cause, so history would read "Error: " (a refused rejoin's Precheck did).
 * The failover workflow runs on the real ASL; its steps fail by the runner's own fault injection, so no
 * cluster is needed.
 */
import { LocalRunner } from '../../../infra/local/runner';

test("a caught step's error names the error and its cause, and so does the failed one after it", async () => {
  const runner = new LocalRunner(
    () => {
      throw new Error('no deps needed');
    },
    { retryIntervalMs: 0 },
  );
  // AssessPrimary retries twice, then its Catch goes to NotifyFailure, which fails the execution.
  runner.injectFault({
    state: 'AssessPrimary',
    times: 3,
    message: 'primary pg1 did not answer from any vantage point',
  });
  runner.injectFault({ state: 'NotifyFailure', times: 5, message: 'topic unreachable' });
  await runner.start('failover', 'caught-1', { cluster: 'lab', reason: 'test' });
  await runner.executions.get('caught-1')!.done;
  const steps = runner.find('caught-1')!.steps;
  const assess = steps.find((s) => s.state === 'AssessPrimary')!;
  expect(assess.attempts).toBe(3);
  expect(assess.error).toBe('InjectedFault: primary pg1 did not answer from any vantage point');
  const notify = steps.find((s) => s.state === 'NotifyFailure')!;
  expect(notify.error).toMatch(/topic unreachable/);
});
