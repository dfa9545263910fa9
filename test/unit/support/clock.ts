/** A fake Deps clock: sleep() advances now() at once and records the pause; nothing waits for real. */
export interface FakeClock {
  t: number;
  slept: number[];
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export function fakeClock(start = Date.parse('2026-12-01T00:00:00Z')): FakeClock {
  const clock: FakeClock = {
    t: start,
    slept: [],
    now: () => new Date(clock.t),
    sleep: async (ms) => {
      clock.slept.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}
