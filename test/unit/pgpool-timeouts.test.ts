/**
 * pgpool's health check and backend connections outlast Linux's first SYN retransmission (1 s after
 * the SYN, TCP_TIMEOUT_INIT): with a 1 s limit, one dropped SYN failed a health check, and a check
 * begun during a short partition of the primary failed after the partition had ended, so that pgpool
 * detached a primary that was back (seed 15's soak replay: a false-alarm failover, the cluster whole
 * again after 8.4 s instead of 4.3 s). AWS runs no health check retry, so there one lost packet did it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AWS_PGPOOL_HEALTH_CHECK } from '../../infra/local/aws-sim';
import { PROFILES } from '../../infra/local/lab/config';

const SYN_RETRANSMIT_MS = 1000;
const script = readFileSync(join(__dirname, '../../infra/node/configure-pgpool.sh'), 'utf8');
/** configure-pgpool.sh's default for a setting written as `name = ${PGW_X:-default}`. */
const scriptDefault = (name: string) => {
  const m = new RegExp(`^${name} = \\$\\{[A-Z_]+:-(\\d+)\\}$`, 'm').exec(script);
  if (!m) throw new Error(`${name} has no default in configure-pgpool.sh`);
  return Number(m[1]);
};

describe("pgpool's timeouts against a dropped SYN", () => {
  test("configure-pgpool.sh's defaults (what AWS runs) are the ones the aws-sim profile states", () => {
    expect(scriptDefault('health_check_timeout')).toBe(AWS_PGPOOL_HEALTH_CHECK.timeoutS);
    expect(scriptDefault('connect_timeout')).toBe(AWS_PGPOOL_HEALTH_CHECK.connectTimeoutMs);
    expect(scriptDefault('health_check_max_retries')).toBe(AWS_PGPOOL_HEALTH_CHECK.retries);
  });

  test.each(Object.values(PROFILES).map((p) => [p.name, p] as const))(
    'profile %s: a health check and a backend connect wait beyond the SYN retransmission',
    (_name, p) => {
      expect(p.healthCheckTimeoutS * 1000).toBeGreaterThan(SYN_RETRANSMIT_MS);
      expect(p.pgpoolConnectTimeoutMs).toBeGreaterThan(SYN_RETRANSMIT_MS);
    },
  );
});
