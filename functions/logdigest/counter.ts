import { detach } from './normalize';

/** A counter map with a cap: past `cap` keys it keeps the larger half, so memory stays bounded. */
export class BoundedCounter<V extends { count: number }> {
  readonly map = new Map<string, V>();
  pruned = 0;

  constructor(
    private readonly cap: number,
    private readonly make: (key: string) => V,
  ) {}

  get(key: string): V {
    let v = this.map.get(key);
    if (!v) {
      if (this.map.size >= this.cap) this.prune();
      const own = detach(key);
      v = this.make(own);
      this.map.set(own, v);
    }
    return v;
  }

  top(n: number, by: (v: V) => number = (v) => v.count): V[] {
    return [...this.map.values()].sort((a, b) => by(b) - by(a)).slice(0, n);
  }

  private prune(): void {
    const keep = Math.floor(this.cap / 2);
    const sorted = [...this.map.entries()].sort((a, b) => b[1].count - a[1].count);
    for (const [k] of sorted.slice(keep)) this.map.delete(k);
    this.pruned += sorted.length - keep;
  }
}

/** Plain name -> count, bounded the same way. */
export class NameCounter {
  private readonly c: BoundedCounter<{ name: string; count: number }>;
  constructor(cap = 1000) {
    this.c = new BoundedCounter(cap, (name) => ({ name, count: 0 }));
  }
  add(name: string, n = 1): void {
    this.c.get(name).count += n;
  }
  top(n: number): { name: string; count: number }[] {
    return this.c.top(n).map((v) => ({ name: v.name, count: v.count }));
  }
}
