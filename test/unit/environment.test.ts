/**
 * The environment is read in one place (issue 16 item 2): functions/lib/env.ts and the step timings
 * of functions/lib/settings.ts. Derived from the files; and the lab's profile reaches settings() as an
 * object (configureSettings), below whatever the environment sets.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { configureSettings, settings } from '../../functions/lib/settings';

const ROOT = join(__dirname, '..', '..');
const READERS = ['functions/lib/env.ts', 'functions/lib/settings.ts'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.[cm]?[jt]s$/.test(n) ? [p] : [];
  });
}

/** Files under functions/ (relative to the root) whose text mentions process.env, outside READERS. */
function readersOutside(texts: [string, string][]): string[] {
  return texts.filter(([f, text]) => !READERS.includes(f) && /process\s*\.\s*env\b/.test(text)).map(([f]) => f);
}

describe('one reader of the environment', () => {
  it('nothing in functions/ but env.ts and settings.ts mentions process.env', () => {
    const texts = files(join(ROOT, 'functions')).map(
      (f) => [relative(ROOT, f), readFileSync(f, 'utf8')] as [string, string],
    );
    expect(texts.length).toBeGreaterThan(100); // the derivation sees the code
    expect(readersOutside(texts)).toEqual([]);
    // The two readers do read it (else the list above is stale).
    expect(
      texts
        .filter(([f, t]) => READERS.includes(f) && t.includes('process.env'))
        .map(([f]) => f)
        .sort(),
    ).toEqual(READERS);
    // It would see one: a step reading a variable of its own, as the prober did.
    expect(
      readersOutside([
        ['functions/probe/handler.ts', 'const every = Number(process.env.PGWARDEN_PROBE_EVERY_S ?? 2) * 1000;'],
        ['functions/lib/settings.ts', 'const v = process.env[name];'],
      ]),
    ).toEqual(['functions/probe/handler.ts']);
  });
});

describe('settings: environment, then profile, then defaults', () => {
  afterEach(() => configureSettings({}));

  it('the defaults, with neither', () => {
    const s = settings({}, {});
    expect(s).toMatchObject({ probeTimeoutMs: 2000, syncStrict: true, rearmAfterMs: 60000, hookPollMs: 100 });
    expect(s.probeEveryMs).toBe(2000);
    expect(s.switchoverMaxLagBytes).toBe(16 * 1024 * 1024);
  });

  it("the profile's value where the environment sets nothing", () => {
    const s = settings({}, { probeTimeoutMs: 500, syncStrict: false, hookPollMs: 10, probeEveryMs: 1000 });
    expect(s).toMatchObject({ probeTimeoutMs: 500, syncStrict: false, hookPollMs: 10, probeEveryMs: 1000 });
    expect(s.checkTimeoutMs).toBe(5000);
  });

  it('a variable set in the environment wins over the profile', () => {
    const s = settings(
      { PGWARDEN_PROBE_TIMEOUT_MS: '900', PGWARDEN_SYNC_STRICT: '1', PGWARDEN_PROBE_EVERY_S: '5' },
      { probeTimeoutMs: 500, syncStrict: false, probeEveryMs: 1000 },
    );
    expect(s).toMatchObject({ probeTimeoutMs: 900, syncStrict: true, probeEveryMs: 5000 });
  });

  it('a variable set but empty means the default, not the profile (as `??=` on process.env left it)', () => {
    expect(settings({ PGWARDEN_PROBE_TIMEOUT_MS: '' }, { probeTimeoutMs: 500 }).probeTimeoutMs).toBe(2000);
  });

  it('a malformed variable throws naming it, whatever the profile', () => {
    expect(() => settings({ PGWARDEN_SWITCHOVER_MAX_LAG_BYTES: 'lots' }, { switchoverMaxLagBytes: 1 })).toThrow(
      'environment variable PGWARDEN_SWITCHOVER_MAX_LAG_BYTES must be a non-negative number, got "lots"',
    );
  });

  it('configureSettings gives settings() its profile; the environment still wins', () => {
    configureSettings({ probeRetryDelayMs: 100, rearmAfterMs: 9000 });
    expect(settings({})).toMatchObject({ probeRetryDelayMs: 100, rearmAfterMs: 9000 });
    expect(settings({ PGWARDEN_REARM_AFTER_MS: '0' })).toMatchObject({ probeRetryDelayMs: 100, rearmAfterMs: 0 });
    configureSettings({});
    expect(settings({}).probeRetryDelayMs).toBe(250);
  });
});
