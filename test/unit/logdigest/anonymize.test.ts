/** --anonymize: no literal of the input log survives in any output format; without it they do (the check can fail). */
import path from 'node:path';
import { anonymizeReport, scrubLiterals, scrubPlan } from '../../../functions/logdigest/anonymize';
import { Digest } from '../../../functions/logdigest/digest';
import { render } from '../../../functions/logdigest/render';
import type { DigestReport } from '../../../functions/logdigest/report';

const P = (pid: number, state = '00000', time = '01:00:00.000') =>
  `2026-11-26 ${time} UTC [${pid}] ${state} alice@shop app=web client=10.0.0.7 `;

/** Literal values the log below carries in statements, parameters, plans, deadlocks and error messages. */
const LITERALS = [
  'zebra-stmt-1',
  '8675309',
  'zebra-param-9',
  'zebra-plan@example.com',
  'zebra-dl-1',
  '424242',
  'zebra-int-77',
  'zebra dollar body',
  '31415.9265',
];

const LOG = [
  `${P(10)}LOG:  statement: insert into orders (note, amount) values ('zebra-stmt-1', 31415.9265)`,
  `${P(10)}LOG:  duration: 2.000 ms  statement: select * from orders where id = 8675309`,
  `${P(11)}LOG:  duration: 3.000 ms  execute S_1: select * from users where id = $1`,
  `${P(11)}DETAIL:  parameters: $1 = 'zebra-param-9'`,
  `${P(12)}LOG:  duration: 12.345 ms  plan:`,
  `\tQuery Text: select * from users where email = 'zebra-plan@example.com'`,
  `\tSeq Scan on users  (cost=0.00..1.01 rows=1 width=36) (actual time=0.010..0.011 rows=0 loops=1)`,
  `\t  Filter: (email = 'zebra-plan@example.com'::text)`,
  `${P(12)}LOG:  duration: 12.500 ms  statement: select * from users where email = 'zebra-plan@example.com'`,
  `${P(13)}LOG:  statement: do $$ begin raise notice 'zebra dollar body'; end $$`,
  `${P(14, '40P01')}ERROR:  deadlock detected`,
  `${P(14, '40P01')}DETAIL:  Process 14 waits for ShareLock on transaction 5; blocked by process 15.`,
  `\tProcess 15 waits for ShareLock on transaction 6; blocked by process 14.`,
  `\tProcess 14: update accounts set note = 'zebra-dl-1' where id = 424242`,
  `\tProcess 15: update accounts set note = 'x' where id = 1`,
  `${P(14, '40P01')}STATEMENT:  update accounts set note = 'zebra-dl-1' where id = 424242`,
  `${P(16, '22P02')}ERROR:  invalid input syntax for type integer: "zebra-int-77"`,
  `${P(16, '22P02')}STATEMENT:  select * from orders where id = 'zebra-int-77'`,
];

async function digest(): Promise<DigestReport> {
  const d = new Digest();
  await d.addLines('node-1', LOG);
  await d.addFile(path.join(__dirname, 'fixtures', 'pg15-sample.stderr'));
  return d.report();
}

describe('--anonymize', () => {
  it.each(['json', 'md', 'html'] as const)('leaves no literal of the input in the %s output', async (format) => {
    const r = await digest();
    const plain = render(r, format);
    const anon = render(anonymizeReport(r), format);
    // The plain report shows them (JSON every one; Markdown and HTML what they render): a leak would be seen.
    const shown = LITERALS.filter((l) => plain.includes(l));
    if (format === 'json') expect(shown).toEqual(LITERALS);
    else expect(shown.length).toBeGreaterThanOrEqual(4);
    for (const l of LITERALS) expect([l, anon.includes(l)]).toEqual([l, false]);
    // ...nor the fixture's own bind parameter.
    if (format === 'json') expect(plain).toMatch(/\$1 = '5'/);
    expect(anon).not.toMatch(/\$1 = '5'/);
  });

  it('keeps what an incident needs: counts, timings, names, the shape of queries and plans', async () => {
    const r = await digest();
    const a = anonymizeReport(r);
    expect(a.totals).toEqual(r.totals);
    expect(a.timeline).toEqual(r.timeline);
    expect(a.top_queries_by_count.map((q) => q.query)).toEqual(r.top_queries_by_count.map((q) => q.query));
    const slow = a.slowest.find((s) => s.plan?.includes('Seq Scan on users'))!;
    expect(slow.plan).toMatch(/Filter: \(email = '\?'::text\)/);
    expect(slow.plan).toMatch(/cost=0\.00\.\.1\.01 rows=1 width=36/);
    expect(slow.query).toBe('select * from users where email = ?');
    expect(a.notes.join(' ')).toMatch(/Anonymized/);
  });

  it('scrubs quoted strings, dollar-quoted bodies and numbers, not identifiers', () => {
    expect(scrubLiterals("update t1 set a = 'it''s', b = -12.5 where c = $x$body$x$")).toBe(
      "update t1 set a = '?', b = ? where c = ?",
    );
    expect(scrubPlan('Index Scan using t_pkey on t  (cost=0.1..8.2 rows=1)\n  Index Cond: (id = 42)')).toBe(
      'Index Scan using t_pkey on t  (cost=0.1..8.2 rows=1)\n  Index Cond: (id = ?)',
    );
  });
});
