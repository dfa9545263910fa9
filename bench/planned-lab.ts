/** The lab a planned-workflow bench runs against: an existing one (--dir) or a fresh one it removes. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, LAB_PROFILE } from '../infra/local/lab';

export function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function benchLab(argv: string[], defaultPortBase: number): Promise<{ lab: Lab; done(): Promise<void> }> {
  const dir = argValue(argv, '--dir');
  if (dir) {
    const lab = new Lab({ dir, log: () => undefined });
    await lab.up();
    return { lab, done: async () => undefined };
  }
  const portBase = Number(argValue(argv, '--port-base') ?? defaultPortBase);
  const lab = new Lab({ dir: mkdtempSync(join(tmpdir(), 'pgw-bench-')), portBase, log: () => undefined });
  await lab.up();
  return { lab, done: () => lab.down({ purge: true }) };
}

export const PROFILE_NOTE = `lab profile "${LAB_PROFILE.name}": pgpool health check every ${LAB_PROFILE.healthCheckPeriodS} s, probe every ${LAB_PROFILE.probeIntervalMs} ms`;
