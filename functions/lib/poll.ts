/**
 * The steps' poll loop: check, pause, check again, until the check has an answer or the deadline has
 * passed. Time comes from the Deps clock (now, sleep), so a unit test drives a poll with a fake clock.
 */
import type { Deps } from './ports';

export type Clock = Pick<Deps, 'now' | 'sleep'>;

export interface Poll {
  /** Milliseconds since the poll started, on the clock, now. */
  elapsedMs(): number;
}

export type PollOptions<T> = (
  | {
      /** The deadline: the poll gives up once more than this many ms have passed since it started. */
      timeoutMs: number;
      deadline?: never;
    }
  | {
      /** The deadline as a time (epoch ms; one shared with work before the poll): it gives up once it is past. */
      deadline: number;
      timeoutMs?: never;
    }
) & {
  /** The pause after a check without an answer; a function is asked after each check. */
  intervalMs: number | ((poll: Poll) => number);
  /** What the poll resolves with (or throws) when a check had no answer and the deadline has passed. */
  onTimeout: (poll: Poll) => T;
  /** Runs after a check without an answer, the deadline not passed, before the pause (a nudge, a retry). */
  meanwhile?: (poll: Poll) => Promise<void>;
};

/**
 * Calls `check` until it resolves with something other than undefined, and resolves with that. After
 * each check without an answer: past the deadline (strictly), `onTimeout`; otherwise `meanwhile`, then
 * a pause of `intervalMs`. The first check is immediate; a check that throws ends the poll (catch
 * inside `check` what is worth retrying).
 */
export async function pollUntil<T>(
  clock: Clock,
  check: (poll: Poll) => Promise<T | undefined>,
  opts: PollOptions<T>,
): Promise<T> {
  const start = clock.now().getTime();
  const deadline = opts.deadline ?? start + opts.timeoutMs;
  const poll: Poll = { elapsedMs: () => clock.now().getTime() - start };
  for (;;) {
    const answer = await check(poll);
    if (answer !== undefined) return answer;
    if (clock.now().getTime() > deadline) return opts.onTimeout(poll);
    await opts.meanwhile?.(poll);
    await clock.sleep(typeof opts.intervalMs === 'number' ? opts.intervalMs : opts.intervalMs(poll));
  }
}

/** The wall clock, for code not handed the Deps yet (the runtimes' Deps keep the same time). */
export const wallClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
