/** The aws-sim profile's latency table: one table in code, the same one in docs/aws.md. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AWS_SIM_LATENCIES, renderLatencyTable, ssmSeenAtMs } from '../../infra/local/aws-sim';
import { profileByName } from '../../infra/local/lab';

const BEGIN = '<!-- aws-sim latencies: generated from infra/local/aws-sim.ts (renderLatencyTable) -->';
const END = '<!-- end aws-sim latencies -->';

describe('aws-sim latency table', () => {
  it('docs/aws.md lists exactly the table the lab uses', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'aws.md'), 'utf8');
    const from = doc.indexOf(BEGIN);
    const to = doc.indexOf(END);
    expect(from).toBeGreaterThan(-1);
    expect(to).toBeGreaterThan(from);
    expect(doc.slice(from + BEGIN.length, to).trim()).toBe(renderLatencyTable());
  });

  it('every figure names a source, and a figure without a published one is an estimate', () => {
    for (const [k, l] of Object.entries(AWS_SIM_LATENCIES)) {
      expect([k, l.source.length > 0]).toEqual([k, true]);
      if (/no published figure/.test(l.source)) expect([k, l.estimate]).toEqual([k, true]);
    }
  });

  it("an SSM command's result is seen at one of the adapter's polls, after delivery, run and report", () => {
    const polls: number[] = [];
    let t = 0;
    let i = AWS_SIM_LATENCIES.ssmPollInitial.ms;
    for (let k = 0; k < 40; k++) {
      t += i;
      polls.push(t);
      i = Math.min(i * 2, AWS_SIM_LATENCIES.ssmPollMax.ms);
    }
    for (const run of [0, 50, 1200, 7000]) {
      const seen = ssmSeenAtMs(run);
      const ready = AWS_SIM_LATENCIES.ssmDelivery.ms + run + AWS_SIM_LATENCIES.ssmResultVisible.ms;
      expect(polls).toContain(seen);
      expect(seen).toBeGreaterThanOrEqual(ready);
      expect(polls.filter((p) => p >= ready)[0]).toBe(seen);
    }
  });

  it('the aws-sim profile uses the alarm period and probe interval of the table, evaluated once a period as CloudWatch does; an unknown profile is refused', () => {
    const p = profileByName('aws-sim');
    expect(p.alarmPeriodS * 1000).toBe(AWS_SIM_LATENCIES.alarmPeriod.ms);
    expect(p.alarmEvaluation).toBe('period');
    expect(p.probeIntervalMs).toBe(AWS_SIM_LATENCIES.probeInterval.ms);
    expect(profileByName(undefined).name).toBe('lab');
    expect(() => profileByName('aws')).toThrow(/unknown lab profile "aws"/);
  });
});
