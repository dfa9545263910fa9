import path from 'node:path';
import { digestFiles } from '../../../functions/logdigest/digest';
import { DigestReport } from '../../../functions/logdigest/report';
import { render } from '../../../functions/logdigest/render';

describe('renderers', () => {
  let r: DigestReport;
  beforeAll(async () => {
    r = await digestFiles([path.join(__dirname, 'fixtures', 'pg15-sample.stderr')], {
      now: () => new Date('2026-11-26T02:00:00Z'),
    });
  });

  it('json is the report itself', () => {
    expect(JSON.parse(render(r, 'json'))).toEqual(r);
  });

  it('markdown has every section, the plans and the notes', () => {
    const md = render(r, 'md');
    for (const h of [
      '## Overview',
      '### Top queries by total time',
      '### Top queries by count',
      '### Slowest statements',
      '### By SQLSTATE',
      '## Locks',
      '### Checkpoints',
      '## Connections and sessions',
      '## Replication and failover',
      '## Plans of the slowest statements',
      '## Notes',
    ]) {
      expect(md).toContain(h);
    }
    expect(md).toContain('| 40P01 | 1 |');
  });

  it('html escapes what the log contains', () => {
    const evil: DigestReport = { ...r, slowest: [{ ...r.slowest[0], query: "SELECT '<script>alert(1)</script>'" }] };
    const html = render(evil, 'html');
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });
});
