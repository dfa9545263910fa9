import alarms from '../../functions/metrics/alarms.json';
import { CounterMemory, counterDelta, counterRate } from '../../functions/metrics/counters';
import { DefinitionError, PLACEMENTS, UNITS, loadDefinitions } from '../../functions/metrics/definitions';
import declared from '../../functions/metrics/definitions.json';

describe('metric definitions', () => {
  const defs = loadDefinitions();

  it('are valid: unique names, CloudWatch units, a known placement', () => {
    const names = defs.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of defs) {
      expect(UNITS).toContain(d.unit);
      expect(PLACEMENTS).toContain(d.on);
      expect(d.sql.trim()).not.toBe('');
    }
  });

  it('name what the alarms and the dashboard read', () => {
    const names = defs.map((d) => d.name);
    for (const n of [
      'WriteProbeLatency',
      'ReplicationLagBytes',
      'ReplicationLagSeconds',
      'StreamingStandbys',
      'SyncStandbys',
      'CommitsPerSecond',
      'RollbacksPerSecond',
      'TransactionsLast10Min',
    ])
      expect(names).toContain(n);
    // The alarm on replication lag reads the Cluster-only series: the maximum over the standbys.
    const lagAlarm = alarms.alarms.find((a) => a.metric === 'ReplicationLagSeconds')!;
    expect(Object.keys(lagAlarm.dimensions)).toEqual(['Cluster']);
    expect(defs.find((d) => d.name === 'ReplicationLagSeconds')!.max).toBe(true);
  });

  it('leave PrimaryWritable to the prober', () => {
    expect(defs.map((d) => d.name)).not.toContain('PrimaryWritable');
  });

  it('reject a duplicate name, an unknown unit or placement, a reserved dimension', () => {
    const base = declared.metrics[1];
    const bad = (m: unknown[]) => () => loadDefinitions({ metrics: m });
    expect(bad([base, base])).toThrow(/defined twice/);
    expect(bad([{ ...base, unit: 'Kilograms' }])).toThrow(/unit must be one of/);
    expect(bad([{ ...base, on: 'replica' }])).toThrow(/on must be one of/);
    expect(bad([{ ...base, dimensions: ['Cluster'] }])).toThrow(/set by the collector/);
    expect(bad([{ ...base, kind: 'histogram' }])).toThrow(DefinitionError);
  });
});

describe('rates from counters', () => {
  it('skip the first run, then divide the increase by the seconds between samples', () => {
    const mem = new CounterMemory();
    const first = { value: 1000, atMs: 60_000 };
    expect(counterRate(mem.swap('commits', first), first)).toBeUndefined();
    const second = { value: 1600, atMs: 120_000 };
    const prev = mem.swap('commits', second);
    expect(prev).toEqual(first);
    expect(counterRate(prev, second)).toBe(10);
    expect(counterDelta(prev, second)).toBe(600);
  });

  it('skip a counter that went back (statistics reset, another primary)', () => {
    expect(counterRate({ value: 500, atMs: 0 }, { value: 20, atMs: 60_000 })).toBeUndefined();
    expect(counterDelta({ value: 500, atMs: 0 }, { value: 20, atMs: 60_000 })).toBeUndefined();
  });

  it('skip two samples taken at the same instant', () => {
    expect(counterRate({ value: 1, atMs: 5 }, { value: 2, atMs: 5 })).toBeUndefined();
  });

  it('report 0 when nothing happened', () => {
    expect(counterRate({ value: 7, atMs: 0 }, { value: 7, atMs: 30_000 })).toBe(0);
  });
});
