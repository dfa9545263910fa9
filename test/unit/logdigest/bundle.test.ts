/** bin/pgwarden digest runs from a JavaScript bundle built on demand: no TypeScript compiled at start. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { digestFiles } from '../../../functions/logdigest/digest';
import type { DigestReport } from '../../../functions/logdigest/report';

const ROOT = path.join(__dirname, '..', '..', '..');
const fixture = path.join(__dirname, 'fixtures', 'pg15-sample.stderr');

describe('the compiled digest entry', () => {
  it('is what bin/pgwarden digest runs, without loading tsx, and reports what the sources report', async () => {
    // A preload that lists, at exit, the modules of tsx the process loaded.
    const dir = mkdtempSync(path.join(tmpdir(), 'pgw-bundle-'));
    const probe = path.join(dir, 'probe.js');
    writeFileSync(
      probe,
      "process.on('exit', () => process.stderr.write('TSX:' + Object.keys(require.cache).filter((k) => k.includes('/node_modules/tsx/')).length + '\\n'));",
    );
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--require', probe, path.join(ROOT, 'bin', 'pgwarden'), 'digest', fixture, '--format', 'json'],
      { maxBuffer: 1 << 24 },
    ).finally(() => rmSync(dir, { recursive: true, force: true }));
    expect(stderr).toMatch(/^TSX:0$/m);
    const viaBundle = JSON.parse(stdout) as DigestReport;
    const viaSources = await digestFiles([fixture]);
    expect(viaBundle.totals).toEqual(viaSources.totals);
    expect(viaBundle.timeline).toEqual(viaSources.timeline);
  });

  it('is rebuilt from the sources it lists, the digest among them', () => {
    const b = require(path.join(ROOT, 'bin', 'digest-bundle.js')) as { digestCli(): { main: unknown }; OUT: string };
    expect(typeof b.digestCli().main).toBe('function');
    const inputs = require(path.join(path.dirname(b.OUT), 'inputs.json')) as string[];
    expect(inputs).toEqual(expect.arrayContaining(['functions/logdigest/cli.ts', 'functions/logdigest/analyzer.ts']));
  });
});
