/** The benches record the machine they ran on (the lab's figures depend on it more than on anything else). */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { machine, machineLine, saveResults } from '../../bench/util';

test('the machine: cores, process and node start times measured here, and whether Node reads an extra CA file', () => {
  const m = machine();
  expect(m.cores).toBeGreaterThanOrEqual(1);
  expect(m.processStartMs).toBeGreaterThan(0);
  expect(m.nodeStartMs).toBeGreaterThan(m.processStartMs);
  expect(m.nodeExtraCaCerts).toBe(Boolean(process.env.NODE_EXTRA_CA_CERTS));
  expect(machineLine(m)).toBe(
    `machine: ${m.cores} cores (${m.cpu}), spawn of /bin/true from node ${m.processStartMs} ms, node -e 0 ${m.nodeStartMs} ms` +
      (m.nodeExtraCaCerts ? ' (NODE_EXTRA_CA_CERTS set)' : ''),
  );
  expect(machineLine({ ...m, nodeExtraCaCerts: true })).toMatch(/\(NODE_EXTRA_CA_CERTS set\)$/);
  expect(machineLine({ ...m, nodeExtraCaCerts: false })).not.toContain('NODE_EXTRA_CA_CERTS');
}, 30_000);

test('saved results carry the machine beside the figures', () => {
  const f = saveResults('unit-test', { figure: 42 });
  try {
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({ machine: machine(), figure: 42 });
  } finally {
    rmSync(f);
  }
  expect(existsSync(f)).toBe(false);
});
