/**
 * Renders the hand-written diagrams in docs/ (*.svg, the sources) to PNG in the headless Chromium the
 * e2e tests use, at the width a reader's page gives them: `npx tsx docs/render-diagrams.ts [name...]`.
 * PGWARDEN_CHROMIUM overrides the browser (default /usr/bin/chromium).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const DOCS = __dirname;
const DIAGRAMS = ['buildout', 'flow-request', 'flow-failover'];

async function main(names: string[]) {
  const browser = await chromium.launch({ executablePath: process.env.PGWARDEN_CHROMIUM ?? '/usr/bin/chromium' });
  try {
    for (const name of names) {
      const svg = fs.readFileSync(path.join(DOCS, `${name}.svg`), 'utf8');
      const m = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
      if (!m) throw new Error(`${name}.svg has no viewBox="0 0 W H"`);
      const [width, height] = [Number(m[1]), Number(m[2])];
      const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
      await page.setContent(`<html><body style="margin:0;background:#fff">${svg}</body></html>`);
      await page
        .locator('svg')
        .first()
        .screenshot({ path: path.join(DOCS, `${name}.png`) });
      await page.close();
      console.log(`docs/${name}.png (${width}x${height})`);
    }
  } finally {
    await browser.close();
  }
}

main(process.argv.slice(2).length ? process.argv.slice(2) : DIAGRAMS).catch((err) => {
  console.error(err);
  process.exit(1);
});
