/** A fresh lab per test file (or per scenario), on its own ports and folder, torn down afterwards. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appDown } from '../../../infra/local/app-process';
import { Lab, type LabOptions } from '../../../infra/local/lab';
import { query } from '../../../infra/local/lab/connections';
import { controlPlaneDown } from '../../../infra/local/lab/services';

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

/**
 * A lab for a test of what pgpool does on its own: one pgpool logging at 'info' (LOG lines with
 * warnings and errors: configure-pgpool.sh), `standbys` standbys (default 1), the app and the
 * control plane stopped (no session but the test's holds a child, and pgwarden does not act on a
 * failover: the hook's call fails), then the table `table` created through pgpool. Up before the
 * file's (or describe block's) tests, purged after them.
 */
export function pgpoolAloneLab(
  portBase: number,
  opts: { table: string; standbys?: number; pgpoolEnv?: Record<string, string> },
): { lab: Lab; pgpoolDir: () => string; pgpoolLog: () => string; logSince: (offset: number) => string } {
  const lab = freshLab(portBase, {
    standbys: opts.standbys ?? 1,
    pgpoolEnv: { PGW_PGPOOL_LOG_LEVEL: 'info', ...opts.pgpoolEnv },
  });
  const pgpoolDir = () => lab.pgpoolDir('pgpool1');
  const pgpoolLog = () => join(pgpoolDir(), 'log', 'pgpool.log');
  beforeAll(async () => {
    await lab.up();
    await appDown(lab);
    await controlPlaneDown(lab);
    await query(lab, 'pgpool', `create table if not exists ${opts.table} (x int)`);
  }, 180_000);
  afterAll(() => lab.down({ purge: true }), 60_000);
  return { lab, pgpoolDir, pgpoolLog, logSince: (offset) => readFileSync(pgpoolLog(), 'utf8').slice(offset) };
}
