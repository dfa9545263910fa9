/** Pure parts of promotion and repointing over SQL, and the warm-up input every step Lambda answers. */
import { isWarmup } from '../../functions/lib/handler';
import { slotName, withUpstream } from '../../functions/lib/sql-node';

describe('withUpstream', () => {
  it("replaces host and port and keeps the node's other connection settings", () => {
    const ci =
      'host=10.0.1.5 port=5432 user=replicator passfile=/etc/pgwarden/pgpass application_name=pg2 connect_timeout=2 keepalives_idle=2';
    expect(withUpstream(ci, '10.0.2.7', 5433)).toBe(
      'host=10.0.2.7 port=5433 user=replicator passfile=/etc/pgwarden/pgpass application_name=pg2 connect_timeout=2 keepalives_idle=2',
    );
  });

  it('adds host and port when absent and keeps quoted values', () => {
    expect(withUpstream("user=replicator application_name='pg 3'", '127.0.0.1', 25433)).toBe(
      "host=127.0.0.1 port=25433 user=replicator application_name='pg 3'",
    );
  });

  it('refuses a conninfo without key=value pairs', () => {
    expect(() => withUpstream('', 'h', 1)).toThrow(/no key=value pairs/);
  });
});

describe('slotName', () => {
  it("is lib.sh's slot_name", () => {
    expect(slotName('pg-4.a')).toBe('pgw_pg_4_a');
  });
});

describe('isWarmup', () => {
  it('is true only for exactly {"warmup": true}', () => {
    expect(isWarmup({ warmup: true })).toBe(true);
    expect(isWarmup({ warmup: 'true' })).toBe(false);
    expect(isWarmup({ warmup: true, cluster: 'c' })).toBe(false);
    expect(isWarmup(null)).toBe(false);
    expect(isWarmup({ cluster: 'c', executionName: 'e' })).toBe(false);
  });
});
