/** The workflows' topology changes (functions/lib/topology-changes.ts): pure, and nothing when there is nothing to do. */
import {
  attached,
  clearMaintenanceMarks,
  fence,
  markMaintenance,
  markSwitching,
  promoted,
  removeStandby,
  rewound,
  switchedOver,
} from '../../functions/lib/topology-changes';
import type { Topology } from '../../functions/lib/topology';
import { topology } from './support/memory-deps';

const at = new Date('2026-12-04T09:00:00Z');
const role = (t: Topology | undefined, n: string) => t?.nodes.find((x) => x.name === n)?.role;
const node = (t: Topology | undefined, n: string) => t?.nodes.find((x) => x.name === n);

/** Every change leaves its input as it was. */
function pure<T>(t: Topology, change: (t: Topology) => T): T {
  const before = structuredClone(t);
  const r = change(t);
  expect(t).toEqual(before);
  return r;
}

test('fence: the node is fenced; a fenced or unknown node is no change', () => {
  const t = topology();
  const f = pure(t, (x) => fence(x, 'pg1'));
  expect(role(f, 'pg1')).toBe('fenced');
  expect(fence(f!, 'pg1')).toBeUndefined();
  expect(fence(t, 'pg9')).toBeUndefined();
});

test('markMaintenance marks and unmarks; no change when already so; clearMaintenanceMarks clears every mark', () => {
  const t = topology();
  const m = pure(t, (x) => markMaintenance(x, 'pg2'));
  expect(node(m, 'pg2')?.maintenance).toBe(true);
  expect(markMaintenance(m!, 'pg2')).toBeUndefined();
  expect(node(markMaintenance(m!, 'pg2', false), 'pg2')?.maintenance).toBeUndefined();
  expect(markMaintenance(t, 'pg2', false)).toBeUndefined();
  const both = markMaintenance(m!, 'pg3')!;
  expect(pure(both, clearMaintenanceMarks)?.nodes.some((n) => n.maintenance)).toBe(false);
  expect(clearMaintenanceMarks(t)).toBeUndefined();
});

test('rewound: a standby again but still marked (not attached yet); attached: in service, not stale, not absent', () => {
  const t = pure(topology(), (x) => fence(x, 'pg1'))!;
  const r = pure(t, (x) => rewound(x, 'pg1'));
  expect(node(r, 'pg1')).toMatchObject({ role: 'standby', maintenance: true });
  expect(rewound(r!, 'pg1')).toBeUndefined();
  const stale = { ...r!, absentSince: { pg1: { lsn: '0/1', at: at.toISOString() } } };
  stale.nodes = stale.nodes.map((n) => (n.name === 'pg1' ? { ...n, stale: true } : n));
  const a = pure(stale, (x) => attached(x, 'pg1'));
  expect(node(a, 'pg1')).toEqual(expect.objectContaining({ role: 'standby' }));
  expect(node(a, 'pg1')?.maintenance ?? node(a, 'pg1')?.stale).toBeUndefined();
  expect(a?.absentSince?.pg1).toBeUndefined();
});

test('markSwitching: only for the execution holding the lease, once', () => {
  const lease = { workflow: 'switchover', execution: 'sw', since: at.toISOString(), expiresAt: at.toISOString() };
  const t = topology({ lease });
  const s = pure(t, (x) => markSwitching(x, 'sw', 'pg1', 'pg2', at));
  expect(s?.lease?.switching).toEqual({ from: 'pg1', to: 'pg2', since: at.toISOString() });
  expect(markSwitching(s!, 'sw', 'pg1', 'pg2', at)).toBeUndefined();
  expect(markSwitching(t, 'other', 'pg1', 'pg2', at)).toBeUndefined();
});

test('promoted: the new primary on its timeline with its synchronous set; stale standbys marked; nothing twice', () => {
  const t = topology();
  const p = pure(t, (x) =>
    promoted(x, {
      node: 'pg2',
      timeline: 2,
      sync: 'ANY 1 (pg3)',
      lsn: '0/3000000',
      previous: 'pg1',
      execution: 'f1',
      at,
      stale: (n) => n === 'pg3',
    }),
  )!;
  expect({ primary: p.primary, timeline: p.timeline }).toEqual({ primary: 'pg2', timeline: 2 });
  expect([role(p, 'pg2'), node(p, 'pg3')?.stale, node(p, 'pg1')?.stale]).toEqual(['primary', true, undefined]);
  expect(p.sync).toMatchObject({ primary: 'pg2', quorum: 1, standbys: ['pg3'], sinceLsn: '0/3000000' });
  expect(p.history.at(-1)).toMatchObject({
    kind: 'promoted',
    detail: { node: 'pg2', previous: 'pg1', execution: 'f1' },
  });
  expect(
    promoted(p, {
      node: 'pg2',
      timeline: 2,
      sync: '',
      lsn: '0/1',
      previous: 'pg1',
      execution: 'f1',
      at,
      stale: () => true,
    }),
  ).toBeUndefined();
});

test('switchedOver: roles swapped, the switch mark cleared, the event names the execution', () => {
  const lease = { workflow: 'switchover', execution: 'sw', since: at.toISOString(), expiresAt: at.toISOString() };
  const t = markSwitching(topology({ lease }), 'sw', 'pg1', 'pg2', at)!;
  const s = pure(t, (x) =>
    switchedOver(x, {
      node: 'pg2',
      timeline: 2,
      sync: 'ANY 1 (pg1, pg3)',
      lsn: '0/5',
      lastLsn: '0/5',
      from: 'pg1',
      execution: 'sw',
      at,
    }),
  );
  expect([s.primary, role(s, 'pg2'), role(s, 'pg1'), s.lease?.switching]).toEqual([
    'pg2',
    'primary',
    'standby',
    undefined,
  ]);
  expect(s.history.at(-1)).toMatchObject({
    kind: 'switched-over',
    detail: { from: 'pg1', to: 'pg2', execution: 'sw' },
  });
});

test('removeStandby: removed for good, its mark gone, recorded', () => {
  const t = markMaintenance(topology(), 'pg3')!;
  const r = pure(t, (x) => removeStandby(x, 'pg3', 'si', at));
  expect(node(r, 'pg3')).toMatchObject({ role: 'removed' });
  expect(node(r, 'pg3')?.maintenance).toBeUndefined();
  expect(r.history.at(-1)).toMatchObject({ kind: 'standby-removed', detail: { node: 'pg3', execution: 'si' } });
});
