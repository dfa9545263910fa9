/** Node scripts end with one `result k=v ...` line on stdout; this reads it. */
export function parseResult(stdout: string): Record<string, string> {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith('result '))
    .pop();
  const out: Record<string, string> = {};
  if (!line) return out;
  for (const m of line.slice(7).matchAll(/(\w+)=("([^"]*)"|\S*)/g)) out[m[1]] = m[3] ?? m[2];
  return out;
}
