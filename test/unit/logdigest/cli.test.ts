import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, parseArgs, parseTime, UsageError } from '../../../functions/logdigest/cli';

const fixture = path.join(__dirname, 'fixtures', 'pg15-sample.stderr');

describe('pgwarden digest', () => {
  let stderr: jest.SpyInstance;
  let stdout: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(((_s: string, cb?: () => void) => {
      cb?.();
      return true;
    }) as typeof process.stdout.write);
  });
  afterEach(() => jest.restoreAllMocks());

  it('writes a JSON report to --output', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'digest-cli-'));
    try {
      const out = path.join(dir, 'r.json');
      expect(await main([fixture, '--format', 'json', '--output', out])).toBe(0);
      const r = JSON.parse(await fs.readFile(out, 'utf8'));
      expect(r.totals.statements).toBe(13);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('prints markdown to stdout by default and honours --since/--until', async () => {
    expect(await main([fixture, '--since=2020-01-01', '--until', '2020-01-02T00:00:00Z'])).toBe(0);
    const text = stdout.mock.calls.map((c) => String(c[0])).join('');
    expect(text).toContain('# PostgreSQL log digest');
    expect(text).toContain('| statements | 0 |');
  });

  it.each([
    [['--format', 'xml', fixture], /--format must be md, json or html/],
    [['--bogus', fixture], /unknown option: --bogus/],
    [[], /no log files given/],
    [['--since', 'yesterday-ish', fixture], /invalid time/],
    [['--prefix', '%m %Z ', fixture], /unsupported escape %Z/],
    [['--since', '2024-01-02', '--until', '2024-01-01', fixture], /--since must be before --until/],
    [['--top', '0', fixture], /--top must be a positive integer/],
    [['--format'], /--format needs a value/],
  ])('exits 2 on bad usage %j', async (argv, msg) => {
    expect(await main(argv)).toBe(2);
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(msg);
  });

  it('exits 1 when a file is missing', async () => {
    expect(await main(['/nonexistent/postgresql.log'])).toBe(1);
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(
      /cannot read \/nonexistent\/postgresql.log: no such file/,
    );
  });

  it('prints help', async () => {
    expect(await main(['--help'])).toBe(0);
    expect(stdout.mock.calls.map((c) => String(c[0])).join('')).toContain('usage: pgwarden digest');
  });

  it('parses absolute and relative times', () => {
    const now = new Date('2026-11-26T12:00:00Z');
    expect(parseTime('24h', now).toISOString()).toBe('2026-11-25T12:00:00.000Z');
    expect(parseTime('90m', now).toISOString()).toBe('2026-11-26T10:30:00.000Z');
    expect(parseTime('2026-11-26 01:02:03', now).toISOString()).toBe('2026-11-26T01:02:03.000Z');
    expect(parseTime('2026-11-26T01:02:03+02:00', now).toISOString()).toBe('2026-11-25T23:02:03.000Z');
    expect(() => parseArgs(['--until'])).toThrow(UsageError);
  });
});
