/**
 * Quantiles of durations in bounded memory. Exact (nearest rank) up to EXACT_LIMIT values; beyond
 * that, a log-bucketed histogram in the style of DDSketch: bucket i holds values in
 * (gamma^(i-1), gamma^i] with gamma = 1.02, so any quantile is within 1% of a value that was
 * observed at that rank. At most ~1,200 buckets cover 1 µs to 3 hours; typically a few dozen.
 */
const EXACT_LIMIT = 64;
const GAMMA = 1.02;
const LOG_GAMMA = Math.log(GAMMA);
const MIN_VALUE = 1e-3;

export class QuantileSketch {
  private exact: number[] | undefined = [];
  private buckets: Map<number, number> | undefined;
  private zeros = 0;
  count = 0;
  max = 0;

  add(v: number): void {
    this.count++;
    if (v > this.max) this.max = v;
    if (this.exact) {
      this.exact.push(v);
      if (this.exact.length > EXACT_LIMIT) {
        const values = this.exact;
        this.exact = undefined;
        this.buckets = new Map();
        for (const x of values) this.addToBuckets(x);
      }
      return;
    }
    this.addToBuckets(v);
  }

  /** Nearest-rank quantile, q in (0, 1]. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    if (this.exact) return [...this.exact].sort((a, b) => a - b)[rank - 1];
    if (rank <= this.zeros) return 0;
    let seen = this.zeros;
    const keys = [...this.buckets!.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      seen += this.buckets!.get(k)!;
      if (seen >= rank) return Math.min(this.max, (2 * Math.pow(GAMMA, k)) / (GAMMA + 1));
    }
    return this.max;
  }

  private addToBuckets(v: number): void {
    if (v < MIN_VALUE) {
      this.zeros++;
      return;
    }
    const k = Math.ceil(Math.log(v) / LOG_GAMMA);
    const b = this.buckets!;
    b.set(k, (b.get(k) ?? 0) + 1);
  }
}
