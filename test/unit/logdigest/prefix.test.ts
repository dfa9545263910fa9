import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PREFIX, LogEntry } from '../../../functions/logdigest/entry';
import { compilePrefix, PrefixError } from '../../../functions/logdigest/prefix';
import { StderrParser } from '../../../functions/logdigest/stderr';

function parse(prefix: string, lines: string[]): { entries: LogEntry[]; skipped: number } {
  const entries: LogEntry[] = [];
  const p = new StderrParser(prefix, 'test', (e) => entries.push(e));
  lines.forEach((l) => p.line(l));
  p.end();
  return { entries, skipped: p.stats.skipped };
}

describe('log_line_prefix', () => {
  it('is the one infra/node/postgresql.logging.conf configures', async () => {
    const conf = await fs.readFile(path.resolve(__dirname, '../../../infra/node/postgresql.logging.conf'), 'utf8');
    const m = /^log_line_prefix\s*=\s*'(.*)'\s*$/m.exec(conf);
    expect(m?.[1]).toBe(DEFAULT_PREFIX);
  });

  it('reads session and background lines of the default prefix (%q)', () => {
    const { entries } = parse(DEFAULT_PREFIX, [
      '2026-11-26 01:17:42.724 UTC [6911] 22012 alice@shop app=web api client=10.0.0.7 ERROR:  division by zero',
      '2026-11-26 01:17:42.947 UTC [6905] 00000 LOG:  checkpoint starting: immediate force wait',
      '2026-11-26 01:17:41.781 UTC [6911] 00000 [unknown]@[unknown] app=[unknown] client=127.0.0.1 LOG:  connection received: host=127.0.0.1 port=45104',
    ]);
    expect(entries[0]).toMatchObject({
      ts: Date.UTC(2026, 10, 26, 1, 17, 42, 724),
      pid: 6911,
      sqlstate: '22012',
      user: 'alice',
      db: 'shop',
      app: 'web api',
      client: '10.0.0.7',
      severity: 'ERROR',
      message: 'division by zero',
    });
    expect(entries[1]).toMatchObject({
      pid: 6905,
      user: '',
      severity: 'LOG',
      message: 'checkpoint starting: immediate force wait',
    });
    expect(entries[2]).toMatchObject({ user: '', db: '', app: '', client: '127.0.0.1' });
  });

  it.each([
    [
      '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ',
      '2024-05-01 12:00:00 CEST [42]: [7-1] user=bob,db=app,app=psql,client=[local] LOG:  statement: select 1',
      Date.UTC(2024, 4, 1, 10, 0, 0),
    ],
    [
      '%m %r %u %d %x %v %c %e ',
      '2024-05-01 12:00:00.500 +02 10.1.1.1(5432) bob app 0 3/7 6b0788b5.1aff 00000 LOG:  statement: select 1',
      Date.UTC(2024, 4, 1, 10, 0, 0, 500),
    ],
    ['%n|%p|%-10u|', '1714564800.250|42|bob       |LOG:  statement: select 1', 1714564800250],
    ['', 'LOG:  statement: select 1', NaN],
  ])('compiles %j', (prefix, line, ts) => {
    const { entries, skipped } = parse(prefix, [line]);
    expect(skipped).toBe(0);
    expect(entries).toHaveLength(1);
    expect(entries[0].message).toBe('statement: select 1');
    expect(entries[0].ts).toEqual(ts);
  });

  it('rejects unknown escapes', () => {
    expect(() => compilePrefix('%m %Z ')).toThrow(PrefixError);
  });
});

describe('stderr reassembly', () => {
  const P = DEFAULT_PREFIX;
  const head = '2026-11-26 01:17:42.117 UTC [6911] 00000 u@d app=a client=h ';

  it('joins tab continuation lines and secondary fields to their entry', () => {
    const { entries, skipped } = parse(P, [
      head + 'LOG:  statement: SELECT a,',
      '\t  b',
      '\tFROM t',
      head + 'LOG:  execute <unnamed>: INSERT INTO t VALUES ($1)',
      head + "DETAIL:  parameters: $1 = 'multi",
      "\tline'",
      '2026-11-26 01:17:42.118 UTC [6911] 23505 u@d app=a client=h ERROR:  duplicate key value violates unique constraint "t_pkey"',
      '2026-11-26 01:17:42.118 UTC [6911] 23505 u@d app=a client=h DETAIL:  Key (id)=(1) already exists.',
      '2026-11-26 01:17:42.118 UTC [6911] 23505 u@d app=a client=h STATEMENT:  INSERT INTO t',
      '\tVALUES (1)',
    ]);
    expect(skipped).toBe(0);
    expect(entries.map((e) => e.message)).toEqual([
      'statement: SELECT a,\n  b\nFROM t',
      'execute <unnamed>: INSERT INTO t VALUES ($1)',
      'duplicate key value violates unique constraint "t_pkey"',
    ]);
    expect(entries[1].detail).toBe("parameters: $1 = 'multi\nline'");
    expect(entries[2]).toMatchObject({
      sqlstate: '23505',
      detail: 'Key (id)=(1) already exists.',
      statement: 'INSERT INTO t\nVALUES (1)',
    });
  });

  it('counts garbage, orphan secondary lines and a truncated last line as skipped, and goes on', () => {
    const { entries, skipped } = parse(P, [
      'garbage at the start',
      '\torphan continuation',
      head + 'LOG:  statement: SELECT 1',
      'rm: cannot remove something',
      '2026-11-26 01:17:42.118 UTC [7000] 00000 u@d app=a client=h DETAIL:  another pid',
      head + 'LOG:  statement: SELECT 2',
      '2026-11-26 01:17:4',
    ]);
    expect(entries.map((e) => e.message)).toEqual(['statement: SELECT 1', 'statement: SELECT 2']);
    expect(skipped).toBe(5);
  });

  it('reads log_error_verbosity = verbose (SQLSTATE in the text, LOCATION lines)', () => {
    const { entries } = parse('%m [%p] ', [
      '2026-11-26 01:17:42.118 UTC [1] ERROR:  42P01: relation "nope" does not exist at character 15',
      '2026-11-26 01:17:42.118 UTC [1] LOCATION:  parserOpenTable, parse_relation.c:1384',
      '2026-11-26 01:17:42.118 UTC [1] STATEMENT:  select * from nope',
    ]);
    expect(entries[0]).toMatchObject({
      sqlstate: '42P01',
      message: 'relation "nope" does not exist at character 15',
      statement: 'select * from nope',
    });
  });
});
