/** Small helpers shared by the benches: statistics, tables, results on disk. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(__dirname, 'results');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

export function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, median: median(s), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}

/** Rows as a text table: the first row is the header, the first column left-aligned, the others right. */

export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const w = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map(
      (r, j) =>
        r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ') +
        (j === 0 ? `\n${w.map((x) => '-'.repeat(x)).join('  ')}` : ''),
    )
    .join('\n');
}

export function saveResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const f = join(RESULTS_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(f, JSON.stringify(data, null, 2));
  return f;
}
