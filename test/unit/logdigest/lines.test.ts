/** Reading files: bytes to lines, in chunks and pieces of any size, against splitting the whole text. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Digest, digestFiles } from '../../../functions/logdigest/digest';
import { LineSplitter } from '../../../functions/logdigest/lines';

/** What splitting the whole text at once gives: its lines, without the empty one after a final line end. */
const plainLines = (text: string) => {
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
};

describe('LineSplitter', () => {
  // multi-byte characters (2, 3 and 4 bytes in UTF-8), CR LF, empty lines, a tab continuation
  const TEXT = [
    "2026-11-26 01:17:42.117 UTC [6911] LOG:  statement: SELECT 'é', '€', '😀' FROM t",
    '\tWHERE a = 1\r',
    '',
    'x'.repeat(300),
    '€'.repeat(90),
    'last line, no line end',
  ].join('\n');
  const bytes = Buffer.from(TEXT);

  it.each([
    ['chunks of 1 byte', 1, 16],
    ['chunks of 7 bytes', 7, 16],
    ['chunks of 64 bytes, pieces of 5', 64, 5],
    ['one chunk, pieces of 100', bytes.length, 100],
    ['one chunk, one piece', bytes.length, 1 << 16],
  ])('gives the lines of the text whole, whatever the chunks and pieces (%s)', (_, chunk, piece) => {
    const got: string[] = [];
    const s = new LineSplitter((l) => got.push(l), piece);
    // a buffer reused for every chunk, as addFile does
    const reused = Buffer.alloc(chunk);
    for (let i = 0; i < bytes.length; i += chunk) {
      const n = bytes.copy(reused, 0, i, i + chunk);
      s.push(reused.subarray(0, n));
    }
    s.end();
    expect(got).toEqual(plainLines(TEXT));
  });

  it('keeps an empty last line out, and gives a text without line end as one line', () => {
    const got: string[] = [];
    const s = new LineSplitter((l) => got.push(l));
    s.push(Buffer.from('a\n\n'));
    s.end();
    s.push(Buffer.from('b'));
    s.end();
    expect(got).toEqual(['a', '', 'b']);
  });
});

describe('a file read in chunks', () => {
  it('reports what the same lines report, lines across the read chunks included', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgw-lines-'));
    try {
      // ~2.6 MB: several 1 MB reads, lines cut by every chunk end
      const lines: string[] = [];
      for (let i = 0; lines.length < 24000; i++) {
        const ts = `2026-11-26 01:${String(Math.floor(i / 600) % 60).padStart(2, '0')}:${String(Math.floor(i / 10) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')} UTC`;
        lines.push(
          `${ts} [${100 + (i % 7)}] 00000 u@d app=a client=h LOG:  duration: ${(i % 97) / 8} ms  statement: SELECT 'é${i}' FROM t WHERE id = ${i}`,
        );
        if (i % 5 === 0) lines.push(`\tAND x = ${i}`);
      }
      const file = path.join(dir, 'postgresql.log');
      writeFileSync(file, lines.join('\n') + '\n');
      const d = new Digest({ now: () => new Date(0) });
      await d.addLines(file, lines);
      const fromLines = d.report();
      const fromFile = await digestFiles([file], { now: () => new Date(0) });
      expect(fromFile.input.bytes).toBe(fromLines.input.bytes);
      expect(fromFile).toEqual(fromLines);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
