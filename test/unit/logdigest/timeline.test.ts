/** The digest's timeline: counts per minute or hour that add up to the totals, in JSON, Markdown and HTML charts. */
import path from 'node:path';
import { Digest, digestFiles } from '../../../functions/logdigest/digest';
import { renderHtml, renderMarkdown } from '../../../functions/logdigest/render';
import { DigestReport, TIMELINE_SERIES, type TimelineSeries } from '../../../functions/logdigest/report';

const fixture = (n: string) => path.join(__dirname, 'fixtures', n);
const P = (time: string, pid: number, state = '00000') =>
  `2026-11-26 ${time} UTC [${pid}] ${state} alice@shop app=web client=10.0.0.7 `;

/** One of every kind the timeline counts, logged at `time`. */
const burst = (time: string, pid: number) => [
  `${P(time, pid)}LOG:  connection authorized: user=alice database=shop application_name=web`,
  `${P(time, pid)}LOG:  statement: select * from orders where id = 1`,
  `${P(time, pid)}LOG:  statement: update orders set state = 'paid' where id = 1`,
  `${P(time, pid, '42P01')}ERROR:  relation "nope" does not exist at character 15`,
  `${P(time, pid)}LOG:  process ${pid} still waiting for ShareLock on transaction 456 after 1000.123 ms`,
  `${P(time, pid)}LOG:  temporary file: path "base/pgsql_tmp/pgsql_tmp${pid}.0", size 1024`,
  `${P(time, 99)}LOG:  checkpoint complete: wrote 10 buffers (0.1%); 0 WAL file(s) added, 0 removed, 1 recycled; write=0.001 s, sync=0.001 s, total=0.010 s`,
  `${P(time, 98)}LOG:  automatic vacuum of table "shop.public.orders": index scans: 0`,
  `${P(time, 98)}LOG:  automatic analyze of table "shop.public.orders"`,
];

async function digestLines(lines: string[]): Promise<DigestReport> {
  const d = new Digest();
  await d.addLines('node-1', lines);
  return d.report();
}

/** Each series summed over the buckets, plus what had no time, equals the total of the same name. */
function expectSumsToTotals(r: DigestReport): void {
  const totals = r.totals as unknown as Record<TimelineSeries, number>;
  for (const s of TIMELINE_SERIES) {
    const sum = r.timeline.points.reduce((a, p) => a + p[s], 0) + r.timeline.untimed[s];
    expect([s, sum]).toEqual([s, totals[s]]);
  }
}

function expectContiguous(r: DigestReport): void {
  const starts = r.timeline.points.map((p) => Date.parse(p.start));
  for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBe(r.timeline.bucket_seconds * 1000);
}

describe('digest timeline', () => {
  it.each(['pg15-sample.stderr', 'pg15-sample.jsonlog'])(
    'sums to the totals on a log written by PostgreSQL 15 (%s), per minute for a short log',
    async (f) => {
      const r = await digestFiles([fixture(f)]);
      expect(r.format_version).toBe(2);
      expect(r.timeline.bucket).toBe('minute');
      expect(r.timeline.series).toEqual([...TIMELINE_SERIES]);
      expect(r.timeline.points.length).toBeGreaterThan(0);
      expect(r.totals.statements).toBeGreaterThan(0);
      expectSumsToTotals(r);
      expectContiguous(r);
    },
  );

  it('counts per hour over 2 hours or more, empty hours included, each in its hour', async () => {
    const r = await digestLines([
      ...burst('01:05:00.000', 10),
      ...burst('01:59:59.999', 11),
      ...burst('04:30:00.000', 12),
    ]);
    expect(r.timeline.bucket).toBe('hour');
    expect(r.timeline.bucket_seconds).toBe(3600);
    expect(r.timeline.points.map((p) => [p.start, p.statements, p.errors, p.checkpoints])).toEqual([
      ['2026-11-26T01:00:00.000Z', 4, 2, 2],
      ['2026-11-26T02:00:00.000Z', 0, 0, 0],
      ['2026-11-26T03:00:00.000Z', 0, 0, 0],
      ['2026-11-26T04:00:00.000Z', 2, 1, 1],
    ]);
    const first = r.timeline.points[0];
    expect(first).toMatchObject({ connections: 2, temp_files: 2, lock_waits: 2, autovacuum: 2, autoanalyze: 2 });
    expectSumsToTotals(r);
  });

  it('counts per minute under 2 hours', async () => {
    const r = await digestLines([...burst('01:00:10.000', 10), ...burst('01:02:50.000', 11)]);
    expect(r.timeline.bucket).toBe('minute');
    expect(r.timeline.points.map((p) => [p.start, p.statements])).toEqual([
      ['2026-11-26T01:00:00.000Z', 2],
      ['2026-11-26T01:01:00.000Z', 0],
      ['2026-11-26T01:02:00.000Z', 2],
    ]);
    expectSumsToTotals(r);
  });

  it('keeps entries without a time (log_line_prefix without %m or %t) apart, in no bucket', async () => {
    const d = new Digest({ prefix: '[%p] %e ' });
    await d.addLines('node-1', [
      '[10] 00000 LOG:  statement: select 1',
      '[10] 42P01 ERROR:  relation "nope" does not exist',
      '[11] 00000 LOG:  connection authorized: user=alice database=shop',
    ]);
    const r = d.report();
    expect(r.totals).toMatchObject({ statements: 1, errors: 1, connections: 1 });
    expect(r.timeline.points).toEqual([]);
    expect(r.timeline.untimed).toMatchObject({ statements: 1, errors: 1, connections: 1 });
    expectSumsToTotals(r);
  });

  it('is drawn in the HTML report (one chart per series) and tabled in Markdown', async () => {
    const r = await digestLines([...burst('01:00:10.000', 10), ...burst('03:10:00.000', 11)]);
    const html = renderHtml(r);
    expect(html.match(/<figure class="chart">/g)).toHaveLength(TIMELINE_SERIES.length);
    expect(html).toMatch(/<figcaption>statements: 4 \(max 2 per hour\)<\/figcaption>/);
    expect(html.match(/<rect /g)!.length).toBe(2 * TIMELINE_SERIES.length);
    const md = renderMarkdown(r);
    expect(md).toMatch(/## Timeline \(per hour, UTC\)/);
    expect(md).toMatch(/\| 2026-11-26T03:00:00.000Z \| 2 \| 1 \| 1 \| 1 \| 1 \| 1 \| 1 \| 1 \|/);
  });

  it('is empty, not broken, for a log without timed entries', async () => {
    const r = await digestLines([]);
    expect(r.timeline.points).toEqual([]);
    expect(renderHtml(r)).not.toMatch(/<figure/);
  });
});
