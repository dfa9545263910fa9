/**
 * The lab's execution journal: history that outlives the control plane's process. An execution that
 * ended reads as it ended; one cut off by a restart reads as ABORTED with the reason; a torn line is
 * skipped and counted; a long journal is cut to the newest executions.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ABORTED_BY_RESTART,
  appendJournal,
  readJournal,
  type ExecutionSummary,
} from '../../../infra/local/execution-journal';
import { LocalRunner } from '../../../infra/local/runner';

const dirs: string[] = [];
const file = () => {
  dirs.push(mkdtempSync(join(tmpdir(), 'pgw-journal-')));
  return join(dirs[dirs.length - 1], 'executions.jsonl');
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function execution(name: string, status: ExecutionSummary['status'], extra: Partial<ExecutionSummary> = {}) {
  return {
    name,
    arn: `arn:aws:states:us-east-1:000000000000:execution:pgwarden-lab-failover:${name}`,
    workflow: 'failover',
    status,
    startedAt: '2026-12-05T02:00:00.000Z',
    durationMs: 10,
    input: { trigger: { source: 'test' } },
    steps: [{ state: 'AssessPrimary', type: 'Task', durationMs: 5, attempts: 1, offsetMs: 0 }],
    ...extra,
  } satisfies ExecutionSummary;
}

test('an ended execution reads as it ended, in the order they started', () => {
  const f = file();
  appendJournal(f, 'started', execution('a', 'RUNNING'));
  appendJournal(f, 'started', execution('b', 'RUNNING'));
  appendJournal(f, 'ended', execution('b', 'FAILED', { error: { Error: 'Refused', Cause: 'paused' } }));
  appendJournal(f, 'ended', execution('a', 'SUCCEEDED', { output: { record: { outcome: 'failed over' } } }));
  const j = readJournal(f);
  expect(j.skippedLines).toBe(0);
  expect(j.executions.map((e) => [e.name, e.status])).toEqual([
    ['a', 'SUCCEEDED'],
    ['b', 'FAILED'],
  ]);
  expect(j.executions[0].output).toEqual({ record: { outcome: 'failed over' } });
  expect(j.executions[1].error).toEqual({ Error: 'Refused', Cause: 'paused' });
});

test('an execution that started and never ended (the control plane stopped) reads as ABORTED, saying why', () => {
  const f = file();
  appendJournal(f, 'started', execution('cut', 'RUNNING'));
  const [e] = readJournal(f).executions;
  expect(e).toMatchObject({ name: 'cut', status: 'ABORTED', error: ABORTED_BY_RESTART });
  expect(e.steps.map((s) => s.state)).toEqual(['AssessPrimary']);
});

test('a name started again after a restart is a new execution, listed where it started', () => {
  const f = file();
  appendJournal(f, 'started', execution('x', 'RUNNING'));
  appendJournal(f, 'started', execution('y', 'RUNNING'));
  appendJournal(f, 'ended', execution('y', 'SUCCEEDED'));
  appendJournal(f, 'started', execution('x', 'RUNNING', { startedAt: '2026-12-05T02:01:00.000Z' }));
  appendJournal(f, 'ended', execution('x', 'SUCCEEDED', { startedAt: '2026-12-05T02:01:00.000Z' }));
  expect(readJournal(f).executions.map((e) => [e.name, e.status, e.startedAt])).toEqual([
    ['y', 'SUCCEEDED', '2026-12-05T02:00:00.000Z'],
    ['x', 'SUCCEEDED', '2026-12-05T02:01:00.000Z'],
  ]);
});

test('lines that do not parse (a write cut short) are skipped and counted, never fatal', () => {
  const f = file();
  appendJournal(f, 'started', execution('ok', 'RUNNING'));
  appendJournal(f, 'ended', execution('ok', 'SUCCEEDED'));
  writeFileSync(f, readFileSync(f, 'utf8') + '{"event":"ended","execution":{"na\n' + '{"event":"other"}\n', {
    flag: 'w',
  });
  const j = readJournal(f);
  expect(j.skippedLines).toBe(2);
  expect(j.executions.map((e) => e.name)).toEqual(['ok']);
});

test('a journal of more than twice the kept number is rewritten with the newest', () => {
  const f = file();
  for (let i = 0; i < 7; i++) {
    appendJournal(f, 'started', execution(`e${i}`, 'RUNNING'));
    appendJournal(f, 'ended', execution(`e${i}`, 'SUCCEEDED'));
  }
  expect(readJournal(f, 3).executions.map((e) => e.name)).toEqual(['e4', 'e5', 'e6']);
  expect(readFileSync(f, 'utf8').trim().split('\n')).toHaveLength(3);
  expect(readJournal(f, 3).executions.map((e) => [e.name, e.status])).toEqual([
    ['e4', 'SUCCEEDED'],
    ['e5', 'SUCCEEDED'],
    ['e6', 'SUCCEEDED'],
  ]);
});

test("a runner started on a journal lists the earlier process's executions and finds them by name", () => {
  const f = file();
  appendJournal(f, 'started', execution('before', 'RUNNING'));
  appendJournal(f, 'ended', execution('before', 'SUCCEEDED'));
  appendJournal(f, 'started', execution('cut', 'RUNNING'));
  const logged: string[] = [];
  const runner = new LocalRunner(
    () => {
      throw new Error('no deps needed');
    },
    { journal: f, log: (m) => logged.push(m) },
  );
  expect(runner.history().map((e) => [e.name, e.status])).toEqual([
    ['before', 'SUCCEEDED'],
    ['cut', 'ABORTED'],
  ]);
  expect(runner.find('cut')?.error).toEqual(ABORTED_BY_RESTART);
  expect(runner.find('never')).toBeUndefined();
  expect(logged).toEqual([]);
});
