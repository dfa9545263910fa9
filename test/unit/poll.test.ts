/**
 * The steps' poll loop (functions/lib/poll.ts) on a fake clock, and steps moved onto it: their time
 * comes from the Deps (now, sleep), so these tests wait for nothing real.
 */
import { waitCaughtUp } from '../../functions/planned/common';
import { pollUntil } from '../../functions/lib/poll';
import { fakeClock } from './support/clock';
import { memoryDeps, topology } from './support/memory-deps';

describe('pollUntil', () => {
  test('checks at once, then after each pause, until the check answers', async () => {
    const clock = fakeClock();
    const seen: number[] = [];
    const r = await pollUntil(
      clock,
      async (poll) => {
        seen.push(poll.elapsedMs());
        return seen.length === 4 ? 'done' : undefined;
      },
      { timeoutMs: 1_000, intervalMs: 100, onTimeout: () => 'late' },
    );
    expect(r).toBe('done');
    expect(seen).toEqual([0, 100, 200, 300]);
    expect(clock.slept).toEqual([100, 100, 100]);
  });

  test('gives up only once strictly past the deadline, after a check, without pausing again', async () => {
    const clock = fakeClock();
    let checks = 0;
    const r = await pollUntil(
      clock,
      async () => {
        checks++;
        return undefined;
      },
      { timeoutMs: 300, intervalMs: 100, onTimeout: (poll) => `late after ${poll.elapsedMs()} ms` },
    );
    // Checked at 0, 100, 200, 300 (not past 300 yet) and 400.
    expect(checks).toBe(5);
    expect(r).toBe('late after 400 ms');
    expect(clock.slept).toEqual([100, 100, 100, 100]);
  });

  test('onTimeout may throw: the poll rejects with its error', async () => {
    const clock = fakeClock();
    await expect(
      pollUntil(clock, async () => undefined, {
        timeoutMs: 50,
        intervalMs: 20,
        onTimeout: () => {
          throw new Error('never came');
        },
      }),
    ).rejects.toThrow('never came');
    expect(clock.t - Date.parse('2026-12-01T00:00:00Z')).toBe(60);
  });

  test('an absolute deadline counts time spent before the poll', async () => {
    const clock = fakeClock();
    const deadline = clock.t + 250;
    clock.t += 200; // earlier work used most of the budget
    let checks = 0;
    const r = await pollUntil(
      clock,
      async () => {
        checks++;
        return undefined;
      },
      { deadline, intervalMs: 100, onTimeout: () => 'late' },
    );
    expect(r).toBe('late');
    expect(checks).toBe(2);
    expect(clock.slept).toEqual([100]);
  });

  test('meanwhile runs between a check without an answer and the pause, not once the deadline has passed', async () => {
    const clock = fakeClock();
    const events: string[] = [];
    await pollUntil(
      clock,
      async (poll) => {
        events.push(`check ${poll.elapsedMs()}`);
        return undefined;
      },
      {
        timeoutMs: 100,
        intervalMs: (poll) => (poll.elapsedMs() === 0 ? 60 : 50),
        onTimeout: () => events.push('timeout'),
        meanwhile: async (poll) => void events.push(`meanwhile ${poll.elapsedMs()}`),
      },
    );
    expect(events).toEqual(['check 0', 'meanwhile 0', 'check 60', 'meanwhile 60', 'check 110', 'timeout']);
    expect(clock.slept).toEqual([60, 50]);
  });

  test('a check that throws ends the poll', async () => {
    const clock = fakeClock();
    await expect(
      pollUntil(
        clock,
        async () => {
          throw new Error('broken');
        },
        { timeoutMs: 1_000, intervalMs: 10, onTimeout: () => 'late' },
      ),
    ).rejects.toThrow('broken');
    expect(clock.slept).toEqual([]);
  });
});

describe('steps on the Deps clock', () => {
  // The topology's nodes listen on 127.0.0.1 ports 1-3: nothing there, every query fails at once.
  const t = topology();

  test('waitCaughtUp polls every 100 ms of the Deps clock and fails after its timeout with the last state', async () => {
    const clock = fakeClock();
    const deps = memoryDeps(t, { now: clock.now, sleep: clock.sleep });
    const started = Date.now();
    // 60 s of the fake clock: with setTimeout this would take a minute.
    await expect(waitCaughtUp(deps, 'pg2', 0, 60_000)).rejects.toThrow(
      'pg2 did not catch up within 60000 ms (not connected to the primary)',
    );
    expect(clock.slept.length).toBe(601);
    expect(new Set(clock.slept)).toEqual(new Set([100]));
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);
});
