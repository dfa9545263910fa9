/**
 * Turns a log_line_prefix (as written in postgresql.conf) into one anchored regular expression that
 * matches the start of a stderr line: prefix, severity and the two spaces after it; the message is
 * the rest of the line. Escapes after %q are optional, as PostgreSQL omits them for background
 * processes.
 */
export type PrefixField = 'time' | 'epoch' | 'pid' | 'user' | 'db' | 'app' | 'client' | 'clientPort' | 'sqlstate';

export interface CompiledPrefix {
  regex: RegExp;
  /** Capture group of each field present in the prefix. */
  groups: Partial<Record<PrefixField, number>>;
  severityGroup: number;
}

const TIME = String.raw`(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: [A-Za-z0-9+:\-/_]+)?)`;

/** escape letter -> [regex with one capture group, field] (field undefined: captured but unused). */
const ESCAPES: Record<string, [string, PrefixField | undefined]> = {
  a: ['(.*?)', 'app'],
  u: ['(.*?)', 'user'],
  d: ['(.*?)', 'db'],
  r: [String.raw`(.*?)(?:\((\d*)\))?`, 'client'],
  h: ['(.*?)', 'client'],
  b: ['(.*?)', undefined],
  p: [String.raw`(\d+)`, 'pid'],
  P: [String.raw`(\d*)`, undefined],
  t: [TIME, 'time'],
  m: [TIME, 'time'],
  n: [String.raw`(\d+\.\d+)`, 'epoch'],
  i: ['(.*?)', undefined],
  e: ['([0-9A-Z]{5})', 'sqlstate'],
  c: ['([0-9a-f]+\\.[0-9a-f]+)', undefined],
  l: [String.raw`(\d+)`, undefined],
  s: [TIME, undefined],
  v: ['(\\S*)', undefined],
  x: [String.raw`(\d+)`, undefined],
  Q: [String.raw`(-?\d+)`, undefined],
};

export const SEVERITIES = 'LOG|ERROR|WARNING|FATAL|PANIC|NOTICE|INFO|DEBUG[1-5]?';
export const SECONDARY = 'DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION';

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class PrefixError extends Error {}

export function compilePrefix(prefix: string): CompiledPrefix {
  const groups: Partial<Record<PrefixField, number>> = {};
  let group = 0;
  let out = '';
  let optionalFrom = -1;
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i];
    if (ch !== '%') {
      out += escapeRe(ch);
      continue;
    }
    i++;
    // padding, e.g. %-10u or %10p: values are padded with spaces
    let padded = false;
    while (i < prefix.length && /[-0-9]/.test(prefix[i])) {
      padded = true;
      i++;
    }
    const esc = prefix[i];
    if (esc === undefined) throw new PrefixError(`log_line_prefix ends with a lone '%': ${prefix}`);
    if (esc === '%') {
      out += '%';
      continue;
    }
    if (esc === 'q') {
      if (optionalFrom < 0) optionalFrom = out.length;
      continue;
    }
    const spec = ESCAPES[esc];
    if (!spec) throw new PrefixError(`unsupported escape %${esc} in log_line_prefix: ${prefix}`);
    const [re, field] = spec;
    group++;
    if (field && groups[field] === undefined) groups[field] = group;
    if (esc === 'r') {
      group++;
      groups.clientPort ??= group;
    }
    out += padded ? ` *${re} *` : re;
  }
  if (optionalFrom >= 0) out = out.slice(0, optionalFrom) + '(?:' + out.slice(optionalFrom) + ')?';
  const severityGroup = group + 1;
  // The message is not part of the match: the line after it (no regular expression need read the
  // message, most of the line, to its end).
  const regex = new RegExp(`^${out}(${SEVERITIES}|${SECONDARY}):  `, 's');
  return { regex, groups, severityGroup };
}
