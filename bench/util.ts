/** Small helpers shared by the benches: statistics, tables, results on disk, the machine they ran on. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
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

/** Results on disk, with the machine they were measured on. */
export function saveResults(name: string, data: object): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const f = join(RESULTS_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(f, JSON.stringify({ machine: machine(), ...data }, null, 2));
  return f;
}

export interface Machine {
  cores: number;
  cpu: string;
  /** Median wall time of spawnSync(/bin/true) from this Node process (its fork, exec and wait), ms. */
  processStartMs: number;
  /** Median wall time of `node -e 0` with this environment, ms. */
  nodeStartMs: number;
  /** Node reads this CA bundle at every start (it costs every node process its parse). */
  nodeExtraCaCerts: boolean;
}

let measured: Machine | undefined;

/**
 * What the lab's figures depend on more than on anything else: the same bench gave a failover of
 * 365 ms on a VM that starts a process in under 1 ms and 2.9 s on one that takes 2.6 ms. Measured
 * once per bench run (about a second).
 */
export function machine(): Machine {
  if (measured) return measured;
  const wall = (cmd: string, args: string[], n: number) =>
    median(
      Array.from({ length: n }, () => {
        const t0 = process.hrtime.bigint();
        spawnSync(cmd, args, { stdio: 'ignore' });
        return Number(process.hrtime.bigint() - t0) / 1e6;
      }),
    );
  measured = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    processStartMs: Math.round(wall('/bin/true', [], 21) * 100) / 100,
    nodeStartMs: Math.round(wall(process.execPath, ['-e', '0'], 5)),
    nodeExtraCaCerts: Boolean(process.env.NODE_EXTRA_CA_CERTS),
  };
  return measured;
}

/** One line for a bench's output: the machine's figures. */
export function machineLine(m: Machine = machine()): string {
  return (
    `machine: ${m.cores} cores (${m.cpu}), spawn of /bin/true from node ${m.processStartMs} ms, node -e 0 ${m.nodeStartMs} ms` +
    (m.nodeExtraCaCerts ? ' (NODE_EXTRA_CA_CERTS set)' : '')
  );
}
