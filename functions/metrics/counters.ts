/**
 * Rates and deltas from cumulative counters (pg_stat_database): the previous sample lives in module
 * scope, so a warm Lambda container computes them between two scheduled runs; a cold start skips them.
 */
export interface CounterSample {
  value: number;
  atMs: number;
}

/** Increase between two samples; undefined on the first run or when the counter went back (stats reset, other node). */
export function counterDelta(prev: CounterSample | undefined, cur: CounterSample): number | undefined {
  if (!prev || cur.value < prev.value || cur.atMs <= prev.atMs) return undefined;
  return cur.value - prev.value;
}

/** Per-second rate between two samples, with the same exceptions as counterDelta. */
export function counterRate(prev: CounterSample | undefined, cur: CounterSample): number | undefined {
  const d = counterDelta(prev, cur);
  return d === undefined ? undefined : d / ((cur.atMs - prev!.atMs) / 1000);
}

export class CounterMemory {
  private readonly last = new Map<string, CounterSample>();

  /** Record `cur` under `key` and return the previous sample. */
  swap(key: string, cur: CounterSample): CounterSample | undefined {
    const prev = this.last.get(key);
    this.last.set(key, cur);
    return prev;
  }

  clear(): void {
    this.last.clear();
  }
}
