/** The lab's X-Ray collector: the daemon protocol, and a trace's documents as one timeline. */
import {
  parseDatagram,
  timeline,
  TraceCollector,
  type SegmentDoc,
} from '../../../infra/local/controlplane/xray-collector';
import { renderTrace } from '../../../infra/local/traces-cli';

const seg = (over: Partial<SegmentDoc>): SegmentDoc => ({
  id: 'a',
  trace_id: '1-00000001-000000000000000000000001',
  name: 'app',
  start_time: 100,
  end_time: 100.01,
  ...over,
});

describe('parseDatagram', () => {
  it('reads a header line, a newline and one document', () => {
    const doc = seg({});
    expect(parseDatagram(`{"format":"json","version":1}\n${JSON.stringify(doc)}`)).toEqual(doc);
  });
  it('rejects anything else', () => {
    expect(parseDatagram(JSON.stringify(seg({})))).toBeUndefined();
    expect(parseDatagram('{"format":"xml"}\n{}')).toBeUndefined();
    expect(parseDatagram('{"format":"json","version":1}\n{"id":"x"}')).toBeUndefined();
  });
});

describe('timeline', () => {
  it('orders nested and streamed subsegments under their parents by start time, with offsets and durations', () => {
    const root = seg({
      http: { request: { method: 'GET', url: 'http://h/api/values/1' }, response: { status: 200 } },
      subsegments: [
        seg({
          id: 'pg',
          name: 'postgresql',
          start_time: 100.002,
          end_time: 100.006,
          sql: { sanitized_query: 'select $1' },
        }),
        seg({ id: 'r1', name: 'redis', start_time: 100.001, end_time: 100.002 }),
      ],
    });
    const streamed = seg({
      id: 'r2',
      name: 'redis',
      type: 'subsegment',
      parent_id: 'a',
      start_time: 100.007,
      end_time: 100.008,
    });
    const t = timeline([streamed, root])!;
    expect(t.spans.map((s) => [s.depth, s.name, s.offsetMs, s.durationMs])).toEqual([
      [0, 'app', 0, 10],
      [1, 'redis', 1, 1],
      [1, 'postgresql', 2, 4],
      [1, 'redis', 7, 1],
    ]);
    expect(t).toMatchObject({ method: 'GET', status: 200, durationMs: 10 });
    expect(renderTrace(t)).toContain('select $1');
  });
});

describe('TraceCollector', () => {
  it('keeps the most recent traces, newest first, and a re-sent segment replaces its earlier copy', () => {
    const c = new TraceCollector(2);
    c.add(seg({ trace_id: 't1' }));
    c.add(seg({ trace_id: 't2', in_progress: true, end_time: undefined }));
    c.add(seg({ trace_id: 't2' }));
    c.add(seg({ trace_id: 't3' }));
    expect(c.recent(10).map((t) => t.id)).toEqual(['t3', 't2']);
    expect(c.get('t2')!.durationMs).toBe(10);
    expect(c.get('t1')).toBeUndefined();
  });
});
