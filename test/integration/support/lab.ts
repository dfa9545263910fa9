/** A fresh lab per test file (or per scenario), on its own ports and folder, torn down afterwards. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabOptions } from '../../../infra/local/lab';

/**
 * A test file's port base, moved by PGWARDEN_TEST_PORT_SHIFT (default 0) so that two checkouts can
 * run their suites on one machine at the same time without their labs meeting.
 */
export function testPortBase(base: number): number {
  const shift = Number(process.env.PGWARDEN_TEST_PORT_SHIFT ?? 0);
  if (!Number.isInteger(shift) || shift < 0 || shift > 20000)
    throw new Error(
      `PGWARDEN_TEST_PORT_SHIFT must be an integer from 0 to 20000, got "${process.env.PGWARDEN_TEST_PORT_SHIFT}"`,
    );
  return base + shift;
}

export function freshLab(portBase: number, opts: Omit<LabOptions, 'dir' | 'portBase'> = {}): Lab {
  const base = testPortBase(portBase);
  return new Lab({ dir: mkdtempSync(join(tmpdir(), `pgw-${base}-`)), portBase: base, log: () => undefined, ...opts });
}
