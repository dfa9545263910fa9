/**
 * Steps from a Step Functions execution history: attempts and errors are attributed to their state by
 * following previousEventId (Parallel branches interleave), a retry that succeeds clears the error, a
 * Fail state and states left open by an uncaught failure are reported as finished.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { StepTracker } from '../../../functions/lib/aws/sfn-executions';

let id = 0;
const t0 = Date.parse('2026-12-03T08:00:00Z');
function ev(type: string, prev: number, extra: Partial<HistoryEvent> = {}): HistoryEvent {
  id++;
  return { id, previousEventId: prev, type: type as HistoryEvent['type'], timestamp: new Date(t0 + id * 10), ...extra };
}
const enter = (type: string, name: string, prev: number) => ev(type, prev, { stateEnteredEventDetails: { name } });
const exit = (type: string, name: string, prev: number) => ev(type, prev, { stateExitedEventDetails: { name } });

beforeEach(() => {
  id = 0;
});

test('parallel branches: each attempt and failure goes to its own state', () => {
  const events = [
    ev('ExecutionStarted', 0), // 1
    enter('ParallelStateEntered', 'PromoteAndRepoint', 1), // 2
    ev('ParallelStateStarted', 2), // 3
    enter('TaskStateEntered', 'PromoteCandidate', 3), // 4
    enter('TaskStateEntered', 'RepointStandbys', 3), // 5
    ev('LambdaFunctionScheduled', 4), // 6 PromoteCandidate
    ev('LambdaFunctionScheduled', 5), // 7 RepointStandbys
    ev('LambdaFunctionStarted', 7), // 8
    ev('LambdaFunctionFailed', 8, { lambdaFunctionFailedEventDetails: { error: 'Error', cause: 'pg3 busy' } }), // 9
    ev('LambdaFunctionStarted', 6), // 10
    ev('LambdaFunctionSucceeded', 10), // 11
    exit('TaskStateExited', 'PromoteCandidate', 11), // 12
    ev('LambdaFunctionScheduled', 9), // 13 RepointStandbys, retry
    ev('LambdaFunctionStarted', 13), // 14
    ev('LambdaFunctionFailed', 14, { lambdaFunctionFailedEventDetails: { error: 'Error', cause: 'pg3 gone' } }), // 15
    exit('TaskStateExited', 'RepointStandbys', 15), // 16 (caught)
    ev('ParallelStateSucceeded', 16), // 17
    exit('ParallelStateExited', 'PromoteAndRepoint', 17), // 18
  ];
  const steps = new StepTracker().feed(events);
  expect(steps).toEqual([
    { state: 'PromoteCandidate', durationMs: 80, attempts: 1 },
    { state: 'RepointStandbys', durationMs: 110, attempts: 2, error: 'Error: pg3 gone' },
    { state: 'PromoteAndRepoint', durationMs: 160, attempts: 1 },
  ]);
});

test('a Fail state is finished when entered; an uncaught failure closes the states it left open', () => {
  const refused = new StepTracker();
  const a = refused.feed([
    ev('ExecutionStarted', 0),
    enter('FailStateEntered', 'SwitchoverRefused', 1),
    ev('ExecutionFailed', 2, { executionFailedEventDetails: { error: 'SwitchoverRefused', cause: 'paused' } }),
  ]);
  expect(a).toEqual([{ state: 'SwitchoverRefused', durationMs: 0, attempts: 1 }]);
  expect(refused.ended).toBe('ExecutionFailed');

  id = 0;
  const crashed = new StepTracker();
  const b = crashed.feed([
    ev('ExecutionStarted', 0),
    enter('TaskStateEntered', 'Precheck', 1),
    ev('LambdaFunctionScheduled', 2),
    ev('LambdaFunctionTimedOut', 3, { lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout' } }),
    ev('ExecutionFailed', 4, { executionFailedEventDetails: { error: 'States.Timeout' } }),
  ]);
  expect(b).toEqual([{ state: 'Precheck', durationMs: 30, attempts: 1, error: 'States.Timeout: ' }]);
});

test('events fed twice (a page read again while polling) are reported once', () => {
  const tr = new StepTracker();
  const page = [ev('ExecutionStarted', 0), enter('PassStateEntered', 'Start', 1), exit('PassStateExited', 'Start', 2)];
  expect(tr.feed(page)).toHaveLength(1);
  expect(tr.feed(page)).toEqual([]);
  expect(tr.ended).toBeUndefined();
});
