/**
 * The EventBridge rules are defined once (functions/triggers/event-rules.json): the lab's bus and the
 * stack (infra/aws/event-rules.js, test/aws for the packaged template) read the same data.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALARMS, alarmName } from '../../functions/lib/alarms';
import eventRules from '../../functions/triggers/event-rules.json';
import { alarmEvent, ec2Event } from '../../infra/local/controlplane/events';
import { RULES, matches } from '../../infra/local/controlplane/sensors';

const awsRules = require('../../infra/aws/event-rules') as {
  events: Record<string, () => Promise<{ eventBridge: { pattern: Record<string, unknown> } }[]>>;
  fill(v: unknown): Promise<unknown>;
  PLACEHOLDERS: Record<string, unknown>;
};

const placeholders = (v: unknown): string[] =>
  typeof v === 'string'
    ? [v]
    : Array.isArray(v) || typeof v !== 'object' || v === null
      ? []
      : Object.values(v).flatMap(placeholders);

describe('EventBridge rules', () => {
  it('the lab bus has exactly the rules of event-rules.json', () => {
    expect(eventRules.rules.length).toBeGreaterThan(0);
    expect(RULES.map((r) => ({ name: r.name, function: r.function, pattern: r.pattern }))).toEqual(eventRules.rules);
    expect(new Set(RULES.map((r) => r.name)).size).toBe(RULES.length);
  });

  it('every placeholder of a pattern is one the stack fills in, and the stack leaves none', async () => {
    for (const r of eventRules.rules)
      for (const p of placeholders(r.pattern)) {
        expect(p).toMatch(/^\{[A-Za-z][A-Za-z0-9]*\}$/);
        expect(Object.keys(awsRules.PLACEHOLDERS)).toContain(p.slice(1, -1));
      }
    for (const [fn, events] of Object.entries(awsRules.events)) {
      const built = await events();
      expect(built).toHaveLength(eventRules.rules.filter((r) => r.function === fn).length);
      for (const e of built) expect(JSON.stringify(e.eventBridge.pattern)).not.toMatch(/"\{[A-Za-z0-9]+\}"/);
    }
    await expect(awsRules.fill({ source: '{nope}' })).rejects.toThrow(/pattern.source is "\{nope\}"/);
  });

  it('serverless.yml spells no EventBridge pattern: its rules come from the data (test/aws: under which function)', () => {
    const yml = readFileSync(join(__dirname, '../../serverless.yml'), 'utf8');
    expect(yml).not.toMatch(/eventBridge:/);
    const used = [...yml.matchAll(/\$\{file\(\.\/infra\/aws\/event-rules\.js\):events\.(\w+)\}/g)].map((m) => m[1]);
    expect(used.sort()).toEqual([...new Set(eventRules.rules.map((r) => r.function))].sort());
  });

  it("routes the lab's alarm and EC2 events to their trigger's rule, and nothing else", () => {
    const a = ALARMS[0];
    const routed = (e: unknown) => RULES.filter((r) => matches(r.pattern, e)).map((r) => r.function);
    expect(routed(alarmEvent(alarmName('lab', a), a, 'lab', { Cluster: 'lab' }, 'OK', 'ALARM'))).toEqual([
      'alarmTrigger',
    ]);
    expect(routed(ec2Event('lab:pg1', 'stopped'))).toEqual(['ec2StateTrigger']);
    expect(routed({ source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: {} })).toEqual(
      [],
    );
    expect(routed({ source: 'aws.autoscaling', 'detail-type': 'CloudWatch Alarm State Change' })).toEqual([]);
  });

  it('matches as EventBridge does: one of the listed values, nested fields, any value for a placeholder', () => {
    const p = { source: ['a', 'b'], detail: { state: ['stopped'], 'instance-id': '{ids}' } };
    expect(matches(p, { source: 'b', detail: { state: 'stopped', 'instance-id': 'i-1' } })).toBe(true);
    expect(matches(p, { source: 'c', detail: { state: 'stopped' } })).toBe(false);
    expect(matches(p, { source: 'a', detail: { state: 'running' } })).toBe(false);
    expect(matches(p, { source: 'a', detail: { state: ['pending', 'stopped'] } })).toBe(true);
    expect(matches({ source: ['a'], resources: '{arns}' }, { source: 'a' })).toBe(true);
  });
});
