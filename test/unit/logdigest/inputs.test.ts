/** Inputs besides files: csvlog, the standard input ("-"), and --log-timezone for ambiguous zone abbreviations. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs, UsageError } from '../../../functions/logdigest/cli';
import { parseCsvRecord } from '../../../functions/logdigest/csvlog';
import { Digest, detectFormat, digestFiles } from '../../../functions/logdigest/digest';
import type { DigestReport } from '../../../functions/logdigest/report';

const fixture = (n: string) => path.join(__dirname, 'fixtures', n);
const ROOT = path.join(__dirname, '..', '..', '..');

/** A csvlog record as PostgreSQL 15 writes it (26 columns). */
function csv(f: {
  time: string;
  pid: number;
  sev: string;
  state?: string;
  msg: string;
  detail?: string;
  query?: string;
}) {
  const q = (v: string | undefined) => (v === undefined || v === '' ? '' : `"${v.replace(/"/g, '""')}"`);
  return [
    f.time,
    q('alice'),
    q('shop'),
    f.pid,
    q('10.0.0.7:51234'),
    '6560f1a0.1',
    1,
    q('SELECT'),
    '2026-11-26 01:00:00 UTC',
    '3/7',
    0,
    f.sev,
    f.state ?? '00000',
    q(f.msg),
    q(f.detail),
    '',
    '',
    '',
    '',
    q(f.query),
    '',
    '',
    q('web'),
    'client backend',
    '',
    0,
  ].join(',');
}

async function digestLines(lines: string[], opts = {}): Promise<DigestReport> {
  const d = new Digest(opts);
  await d.addLines('node-1', lines);
  return d.report();
}

describe('csvlog input', () => {
  const lines = [
    csv({
      time: '2026-11-26 01:00:01.000 UTC',
      pid: 10,
      sev: 'LOG',
      msg: 'connection authorized: user=alice database=shop application_name=web',
    }),
    // a multi-line statement with a quoted "identifier" inside: one record over three lines
    ...csv({
      time: '2026-11-26 01:00:02.000 UTC',
      pid: 10,
      sev: 'LOG',
      msg: 'duration: 12.500 ms  statement: select *\n  from "Orders"\n  where id = 42',
    }).split('\n'),
    csv({
      time: '2026-11-26 01:03:00.000 UTC',
      pid: 11,
      sev: 'ERROR',
      state: '42P01',
      msg: 'relation "nope" does not exist',
      query: 'select * from nope',
    }),
  ];

  it('is detected by content and read record by record, quoted fields over several lines included', async () => {
    expect(detectFormat(lines[0])).toBe('csvlog');
    expect(detectFormat('2026-11-26 01:00:01.000 UTC [10] 00000 alice@shop LOG:  x')).toBe('stderr');
    const r = await digestLines(lines);
    expect(r.input.sources[0].format).toBe('csvlog');
    expect(r.input).toMatchObject({ lines: 5, skipped_lines: 0, entries: 3 });
    expect(r.totals).toMatchObject({ statements: 1, errors: 1, connections: 1 });
    expect(r.slowest[0]).toMatchObject({
      duration_ms: 12.5,
      user: 'alice',
      database: 'shop',
      application: 'web',
      client: '10.0.0.7',
      pid: 10,
    });
    expect(r.slowest[0].query).toBe('select *\n  from "Orders"\n  where id = 42');
    expect(r.errors_by_sqlstate).toEqual([expect.objectContaining({ sqlstate: '42P01', count: 1 })]);
    expect(r.timeline.points.map((p) => [p.start, p.statements, p.errors])).toEqual([
      ['2026-11-26T01:00:00.000Z', 1, 0],
      ['2026-11-26T01:01:00.000Z', 0, 0],
      ['2026-11-26T01:02:00.000Z', 0, 0],
      ['2026-11-26T01:03:00.000Z', 0, 1],
    ]);
  });

  it('counts a record that is not csvlog (too few columns, an unclosed quote at the end) as skipped', async () => {
    const r = await digestLines([lines[0], 'a,b,c', '2026-11-26 01:00:09.000 UTC,"alice,"unclosed'], {
      inputFormat: 'csvlog',
    });
    expect(r.input).toMatchObject({ entries: 1, skipped_lines: 2 });
    expect(parseCsvRecord('a,"b ""c"", d",,e')).toEqual(['a', 'b "c", d', '', 'e']);
  });
});

describe('the standard input', () => {
  it('"-" digests what is piped in, like the same file', async () => {
    const child = promisify(execFile)('node', [path.join(ROOT, 'bin', 'pgwarden'), 'digest', '-', '--format', 'json'], {
      maxBuffer: 1 << 24,
    });
    child.child.stdin!.end(readFileSync(fixture('pg15-sample.stderr')));
    const piped = JSON.parse((await child).stdout) as DigestReport;
    const file = await digestFiles([fixture('pg15-sample.stderr')]);
    expect(piped.input.sources.map((s) => s.name)).toEqual(['(stdin)']);
    expect(piped.totals).toEqual(file.totals);
    expect(piped.timeline).toEqual(file.timeline);
  });

  it('refuses "-" twice', () => {
    expect(() => parseArgs(['-', '-'])).toThrow(/can be given once/);
  });
});

describe('--log-timezone', () => {
  const at = (time: string, zone: string) =>
    `2026-${time} ${zone} [10] 00000 alice@shop app=web client=10.0.0.7 LOG:  statement: select 1`;

  it('reads abbreviations that mean two zones in the given one', async () => {
    // IST: India (+05:30) by default; Irish Summer Time (+01:00) in Europe/Dublin.
    const ist = [at('07-01 12:00:00.000', 'IST')];
    expect((await digestLines(ist)).period.first_entry).toBe('2026-07-01T06:30:00.000Z');
    expect((await digestLines(ist, { logTimezone: 'Europe/Dublin' })).period.first_entry).toBe(
      '2026-07-01T11:00:00.000Z',
    );
    // CST: US Central (-06:00) by default; China (+08:00) in Asia/Shanghai.
    const cst = [at('01-15 12:00:00.000', 'CST')];
    expect((await digestLines(cst)).period.first_entry).toBe('2026-01-15T18:00:00.000Z');
    expect((await digestLines(cst, { logTimezone: 'Asia/Shanghai' })).period.first_entry).toBe(
      '2026-01-15T04:00:00.000Z',
    );
    // numeric offsets and UTC are read as written, whatever the zone
    expect(
      (await digestLines([at('01-15 12:00:00.000', '+02')], { logTimezone: 'Asia/Shanghai' })).period.first_entry,
    ).toBe('2026-01-15T10:00:00.000Z');
  });

  it('follows daylight saving time of the zone, and refuses an unknown zone', async () => {
    const r = await digestLines([at('01-15 12:00:00.000', 'GMT'), at('01-15 12:00:00.000', 'IST')], {
      logTimezone: 'Europe/Dublin',
    });
    // Dublin in January is on +00:00 whatever the abbreviation says
    expect(r.period.first_entry).toBe('2026-01-15T12:00:00.000Z');
    expect(() => parseArgs(['x.log', '--log-timezone', 'Mars/Olympus'])).toThrow(UsageError);
    expect(parseArgs(['x.log', '--log-timezone', 'Europe/Dublin']).logTimezone).toBe('Europe/Dublin');
  });
});
