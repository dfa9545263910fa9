/** Pid files as the lab's processes write them: pgpool ends its pid with a NUL byte. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPid } from '../../../infra/local/lab/processes';

const dir = mkdtempSync(join(tmpdir(), 'pgw-pidfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

test("reads pgpool's pid file, which ends in a NUL byte (as pgpool's write_pid_file writes it)", () => {
  expect(readPid(file('pgpool.pid', '4242\0'))).toBe(4242);
});

test('reads the pid files of PostgreSQL, Redis and the control plane (a pid, then lines or nothing)', () => {
  expect(readPid(file('postmaster.pid', '4243\n/var/lib/data\n1700000000\n'))).toBe(4243);
  expect(readPid(file('redis.pid', '4244\n'))).toBe(4244);
  expect(readPid(file('controlplane.pid', '4245'))).toBe(4245);
});

test('anything else is no pid', () => {
  expect(readPid(file('empty.pid', ''))).toBeUndefined();
  expect(readPid(file('garbage.pid', 'pgpool\0'))).toBeUndefined();
  expect(readPid(file('zero.pid', '0\n'))).toBeUndefined();
  expect(readPid(join(dir, 'missing.pid'))).toBeUndefined();
});
