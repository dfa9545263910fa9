/**
 * Captures what a Lambda's logger writes: every JSON line on stdout and stderr, parsed, in order.
 * Call `start()` in beforeEach and `stop()` in afterEach.
 */
export function jsonLineCapture() {
  let spies: jest.SpyInstance[] = [];
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    start(): void {
      lines.length = 0;
      const capture = (chunk: string | Uint8Array) => {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        return true;
      };
      spies = [process.stdout, process.stderr].map((s) => jest.spyOn(s, 'write').mockImplementation(capture));
    },
    stop(): void {
      for (const s of spies) s.mockRestore();
      spies = [];
    },
  };
}
