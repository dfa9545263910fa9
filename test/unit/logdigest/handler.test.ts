import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MetricDatum } from '../../../functions/lib/ports';
import { DEFAULT_PREFIX } from '../../../functions/logdigest/entry';
import { defaultDeps, DigestDeps, LogSource, makeHandler, readConfig } from '../../../functions/logdigest/handler';

const fixture = (n: string) => path.join(__dirname, 'fixtures', n);

function fakeDeps(source: LogSource, now = new Date('2026-11-27T00:00:00Z')) {
  const puts: { name: string; body: string; type: string }[] = [];
  const notes: { subject: string; message: Record<string, unknown> }[] = [];
  const metrics: MetricDatum[] = [];
  const deps: DigestDeps = {
    source,
    reports: { put: async (name, body, type) => (puts.push({ name, body, type }), `mem://${name}`) },
    notifier: { notify: async (subject, message) => void notes.push({ subject, message }) },
    metrics: { put: async (_ns, data) => void metrics.push(...data) },
    now: () => now,
    log: () => undefined,
  };
  return { deps, puts, notes, metrics };
}

async function* fileLines(file: string) {
  for (const l of (await fs.readFile(file, 'utf8')).split('\n')) if (l) yield l;
}

describe('readConfig', () => {
  it('reads everything from the environment, with defaults', () => {
    expect(readConfig({ PGWARDEN_CLUSTER: 'c1', DIGEST_BUCKET: 'b', DIGEST_TOPIC_ARN: 'arn' })).toEqual({
      cluster: 'c1',
      windowHours: 24,
      prefix: DEFAULT_PREFIX,
      logFormat: 'jsonlog',
      logGroup: '/pgwarden/c1/postgresql-json',
      bucket: 'b',
      keyPrefix: 'digests/c1/',
      topicArn: 'arn',
      logDir: undefined,
      reportDir: undefined,
      anonymize: true,
      logTimezone: undefined,
    });
    expect(readConfig({ PGWARDEN_CLUSTER: 'c1', DIGEST_LOG_FORMAT: 'stderr' }).logGroup).toBe(
      '/pgwarden/c1/postgresql',
    );
  });

  it.each([
    [{}],
    [{ PGWARDEN_CLUSTER: 'c', DIGEST_WINDOW_HOURS: 'x' }],
    [{ PGWARDEN_CLUSTER: 'c', DIGEST_LOG_FORMAT: 'csv' }],
  ])('rejects %j', (env) => {
    expect(() => readConfig(env)).toThrow();
  });
});

describe('digest handler', () => {
  it('digests the window from the source, stores three reports, notifies and puts metrics', async () => {
    // Prepare: the fixture was logged on 2026-11-26 around 01:21 UTC
    const windows: [Date, Date][] = [];
    const source: LogSource = {
      async *streams(since, until) {
        windows.push([since, until]);
        yield { name: 'i-1', format: 'jsonlog', lines: fileLines(fixture('pg15-sample.jsonlog')) };
      },
    };
    const { deps, puts, notes, metrics } = fakeDeps(source);
    const config = readConfig({ PGWARDEN_CLUSTER: 'c1' });

    // Act
    const res = await makeHandler(deps, config)({});

    // Assess
    expect(windows).toEqual([[new Date('2026-11-26T00:00:00Z'), new Date('2026-11-27T00:00:00Z')]]);
    expect(puts.map((p) => [p.name, p.type])).toEqual([
      ['c1-2026-11-27T00-00-00Z.json', 'application/json'],
      ['c1-2026-11-27T00-00-00Z.md', 'text/markdown; charset=utf-8'],
      ['c1-2026-11-27T00-00-00Z.html', 'text/html; charset=utf-8'],
    ]);
    expect(JSON.parse(puts[0].body).totals.statements).toBe(13);
    expect(res.totals).toMatchObject({ statements: 13, errors: 2, deadlocks: 1 });
    expect(notes[0].subject).toBe('pgwarden c1 log digest: 2 errors, 1 deadlocks, 1 lock waits');
    expect(notes[0].message).toMatchObject({ cluster: 'c1', report: 'mem://c1-2026-11-27T00-00-00Z.html' });
    expect(metrics.find((m) => m.name === 'DigestDeadlocks')).toMatchObject({
      value: 1,
      unit: 'Count',
      dimensions: { Cluster: 'c1' },
    });
  });

  it('anonymizes what leaves the Lambda (S3 reports, SNS summary) by default; DIGEST_ANONYMIZE=0 keeps literals', async () => {
    const secret =
      "2026-11-26 01:30:00.000 UTC [7] 00000 alice@shop app=web client=10.0.0.7 LOG:  duration: 5.000 ms  statement: select * from users where email = 'zebra-secret@example.com'";
    const source: LogSource = {
      async *streams() {
        yield {
          name: 'i-1',
          format: 'stderr',
          lines: (async function* () {
            yield secret;
          })(),
        };
      },
    };
    const run = async (env: Record<string, string>) => {
      const f = fakeDeps(source);
      await makeHandler(f.deps, readConfig({ PGWARDEN_CLUSTER: 'c1', ...env }))({});
      return [...f.puts.map((x) => x.body), JSON.stringify(f.notes)].join('\n');
    };
    const out = await run({});
    expect(out).toMatch(/select \* from users where email = \?/);
    expect(out).not.toMatch(/zebra-secret/);
    expect(await run({ DIGEST_ANONYMIZE: '0' })).toMatch(/zebra-secret@example.com/);
    expect(() => readConfig({ PGWARDEN_CLUSTER: 'c1', DIGEST_ANONYMIZE: 'yes' })).toThrow(
      /DIGEST_ANONYMIZE must be 0 or 1/,
    );
  });

  it('re-runs an explicit window and refuses an empty one', async () => {
    const { deps } = fakeDeps({ async *streams() {} });
    const h = makeHandler(deps, readConfig({ PGWARDEN_CLUSTER: 'c1' }));
    const res = await h({ since: '2026-11-20T00:00:00Z', until: '2026-11-21T00:00:00Z' });
    expect(res).toMatchObject({
      since: '2026-11-20T00:00:00.000Z',
      until: '2026-11-21T00:00:00.000Z',
      totals: { statements: 0 },
    });
    await expect(h({ since: '2026-11-21T00:00:00Z', until: '2026-11-20T00:00:00Z' })).rejects.toThrow(
      /invalid digest window/,
    );
  });

  it('in the lab reads the log directory and writes the reports beside it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'digest-lab-'));
    await fs.copyFile(fixture('pg15-sample.stderr'), path.join(dir, 'postgresql-Thu.log'));
    const config = readConfig({
      PGWARDEN_CLUSTER: 'lab',
      DIGEST_LOG_DIR: dir,
      DIGEST_LOG_FORMAT: 'stderr',
      DIGEST_REPORT_DIR: path.join(dir, 'out'),
    });
    const deps = await defaultDeps(config);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const res = await makeHandler(deps, config)({ since: '2026-11-26T00:00:00Z', until: '2026-11-27T00:00:00Z' });
    log.mockRestore();
    expect(res.totals.statements).toBe(13);
    expect(JSON.parse(await fs.readFile(res.reports.json, 'utf8')).totals.deadlocks).toBe(1);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
