/** A fresh lab per test file (or per scenario), on its own ports and folder, torn down afterwards. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabOptions } from '../../../infra/local/lab';

export function freshLab(portBase: number, opts: Omit<LabOptions, 'dir' | 'portBase'> = {}): Lab {
  return new Lab({ dir: mkdtempSync(join(tmpdir(), `pgw-${portBase}-`)), portBase, log: () => undefined, ...opts });
}
