/**
 * The operator dashboard end to end in a real browser: headless Chromium (the Debian package the
 * doctor installs, driven by playwright-core) against the app `lab up` started, on a real lab.
 * Screenshots are kept in test-artifacts/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { appUrl } from '../../infra/local/app-process';
import { REPO_ROOT, type Lab } from '../../infra/local/lab';
import { freshLab } from '../integration/support/lab';

jest.setTimeout(240_000);

// The functions passed to the page run in the browser; the few DOM names they use (no DOM lib here).
type DomEl = { getAttribute(n: string): string | null; textContent: string | null };
declare const document: {
  querySelector(s: string): DomEl | null;
  querySelectorAll(s: string): Iterable<DomEl>;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

const roles = (page: Page) =>
  page.$$eval('[data-testid=node]', (els) =>
    els.map((e) => [e.getAttribute('data-node'), e.getAttribute('data-role')]),
  );

describe('the operator dashboard in headless Chromium', () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    lab = freshLab(25200);
    await lab.up();
    // Some app traffic, so that traces exist.
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${appUrl(lab)}/api/values`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: `dashboard ${i}` }),
      });
      expect(r.status).toBe(201);
      await fetch(`${appUrl(lab)}/api/values/${((await r.json()) as { id: number }).id}`);
    }
    // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await lab?.down({ purge: true });
  }, 60_000);

  test('shows three nodes with their roles, pgpool view, a chart with data, the recent traces and the log digest', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${appUrl(lab)}/dashboard`);
    await page.waitForFunction("document.querySelectorAll('[data-testid=node]').length === 3", null, {
      timeout: 20_000,
    });
    const primary = lab.readTopology().primary;
    expect(Object.fromEntries(await roles(page))).toEqual(
      Object.fromEntries(lab.config().nodes.map((n) => [n.name, n.name === primary ? 'primary' : 'standby'])),
    );
    expect(await page.textContent('#primary')).toBe(primary);
    expect(await page.locator('[data-testid=pgpool] tbody tr').count()).toBe(3);
    // A uPlot chart with at least two samples drawn (the prober publishes every 0.5 s).
    await page.waitForSelector('[data-testid=chart][data-metric=PrimaryProbeLatency] canvas', { timeout: 20_000 });
    await page.waitForFunction(
      () =>
        Number(
          document.querySelector('[data-testid=chart][data-metric=PrimaryProbeLatency]')?.getAttribute('data-points'),
        ) >= 2,
      null,
      { timeout: 20_000 },
    );
    await page.waitForSelector('[data-testid=trace]', { timeout: 20_000 });
    expect(await page.textContent('#traces')).toContain('POST /api/values');
    // The latest log digest of the nodes' PostgreSQL logs.
    await page.waitForSelector('[data-testid=digest]', { timeout: 20_000 });
    expect(await page.textContent('[data-testid=digest]')).toMatch(/\d+statements\d+errors[1-9]\d*connections/);
    expect(errors).toEqual([]);
    expect(await page.textContent('#error')).toBe('');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  });

  test('after a failover in the lab it shows the new primary, the old one down, and the failover workflow with its steps', async () => {
    const old = lab.readTopology().primary;
    lab.kill(old);
    // The page refreshes by itself: no reload here.
    await page.waitForFunction(
      (o) => {
        const p = document.querySelector('[data-testid=node][data-role=primary]');
        return !!p && p.getAttribute('data-node') !== o;
      },
      old,
      { timeout: 60_000 },
    );
    const shown = Object.fromEntries(await roles(page));
    const newPrimary = Object.entries(shown).find(([, r]) => r === 'primary')![0];
    expect(newPrimary).not.toBe(old);
    expect(['down', 'unreachable']).toContain(shown[old]);
    // The failover that promoted, with its steps. A second trigger of the same failure (the alarm beside
    // pgpool's hook) may list a later execution that found the new primary healthy, so look through the list.
    const promoted = () =>
      [...document.querySelectorAll('[data-testid=execution]')].some(
        (e) => /failover\s+SUCCEEDED/.test(e.textContent ?? '') && (e.textContent ?? '').includes('PromoteCandidate'),
      );
    await page.waitForFunction(promoted, null, { timeout: 60_000 });
    const execs = await page.$$eval('[data-testid=execution]', (els) => els.map((e) => e.textContent ?? ''));
    expect(execs.find((t) => t.includes('PromoteCandidate'))).toMatch(/failover\s+SUCCEEDED\s+failed-over/);
    expect(lab.readTopology().primary).toBe(newPrimary);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-failover.png'), fullPage: true });
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.goto(`${appUrl(lab)}/dashboard`);
    await phone.waitForSelector('[data-testid=node][data-role=primary]');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    await phone.close();
  });
});
