import { QuantileSketch } from '../../../functions/logdigest/sketch';

describe('QuantileSketch', () => {
  it('is exact (nearest rank) for small samples', () => {
    const s = new QuantileSketch();
    for (let i = 1; i <= 20; i++) s.add(i);
    expect(s.quantile(0.95)).toBe(19);
    expect(s.max).toBe(20);
  });

  it('stays within 1% of the true p95 on large skewed samples, in bounded memory', () => {
    const s = new QuantileSketch();
    const values: number[] = [];
    let x = 12345;
    for (let i = 0; i < 200000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const v = Math.exp((x / 2147483648) * 12) / 100; // 0.01 ms .. 1.6 s, log-uniform
      values.push(v);
      s.add(v);
    }
    values.sort((a, b) => a - b);
    const truth = values[Math.ceil(0.95 * values.length) - 1];
    expect(Math.abs(s.quantile(0.95) - truth) / truth).toBeLessThan(0.01);
    expect((s as unknown as { buckets: Map<number, number> }).buckets.size).toBeLessThan(1000);
  });

  it('returns 0 when empty and never more than the max', () => {
    const s = new QuantileSketch();
    expect(s.quantile(0.95)).toBe(0);
    for (let i = 0; i < 100; i++) s.add(5);
    expect(s.quantile(0.95)).toBeLessThanOrEqual(5);
    expect(s.quantile(0.95)).toBeGreaterThan(4.9);
  });
});
