import { poolStatus } from '../../functions/lib/db';

// pgpool's status words (SHOW POOL_HEALTH_CHECK_STATS, pcp_health_check_stats) as the workflows read
// them: only a backend pgpool routes to is up.
describe('poolStatus', () => {
  it.each([
    ['up', 'up'],
    ['waiting', 'up'],
    ['down', 'down'],
    ['quarantine', 'down'],
    ['unused', 'down'],
    ['', 'down'],
    ['something new', 'down'],
  ])("pgpool's '%s' is %s", (word, expected) => {
    expect(poolStatus(word)).toBe(expected);
  });
});
