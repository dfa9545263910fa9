/**
 * Splits a byte stream (a file read in chunks, a pipe, a gunzip stream) into lines of text.
 *
 * Each chunk is decoded only up to a line end, so that no character is cut in two (a line end is
 * never inside a UTF-8 sequence) and no string is joined per chunk; the bytes after the last line
 * end are carried over to the next chunk. A chunk is decoded in pieces of about `piece` bytes: a
 * string that small is allocated in V8's young generation, whose pages are reused, while a larger
 * one gets fresh pages of its own (a page fault for every 4 kB, which cost more than the decoding).
 */
export class LineSplitter {
  /** Bytes after the last line end so far (copies: the caller may reuse its buffer). */
  private readonly carry: Buffer[] = [];

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly piece = 1 << 16,
  ) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.carry.push(Buffer.from(chunk));
      return;
    }
    let from = 0;
    if (this.carry.length > 0) {
      from = chunk.indexOf(10) + 1;
      this.lines(Buffer.concat([...this.carry.splice(0), chunk.subarray(0, from)]).toString());
    }
    while (from <= last) {
      let to = from + this.piece > last ? last : chunk.lastIndexOf(10, from + this.piece);
      if (to < from) to = chunk.indexOf(10, from + this.piece); // a line longer than a piece
      this.lines(chunk.toString('utf8', from, to + 1));
      from = to + 1;
    }
    if (last + 1 < chunk.length) this.carry.push(Buffer.from(chunk.subarray(last + 1)));
  }

  /** The stream ended: its last line, when it does not end with a line end. */
  end(): void {
    const rest = Buffer.concat(this.carry.splice(0)).toString();
    if (rest.length > 0) this.onLine(rest);
  }

  /** The lines of `text`, which ends with a line end. */
  private lines(text: string): void {
    for (let start = 0, nl = text.indexOf('\n'); nl >= 0; start = nl + 1, nl = text.indexOf('\n', start)) {
      this.onLine(text.slice(start, nl));
    }
  }
}
