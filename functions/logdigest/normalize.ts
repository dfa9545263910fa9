/**
 * Query normalization: one pass over the text. String and numeric literals and $n parameters become
 * '?', comments go, whitespace collapses, unquoted words are lower-cased (quoted identifiers keep
 * their case), and lists of placeholders ("in (?, ?, ?)", "values (?, ?), (?, ?)") collapse to one.
 * Also returns the statement type, read from the first keyword (for WITH, the first top-level
 * SELECT/INSERT/UPDATE/DELETE/MERGE after the CTE list).
 */
export type StatementType = 'select' | 'insert' | 'update' | 'delete' | 'copy' | 'ddl' | 'tcl' | 'other';

export interface Normalized {
  query: string;
  type: StatementType;
}

const MAX_NORMALIZED = 2000;

const TYPE_OF: Record<string, StatementType> = {
  select: 'select',
  values: 'select',
  table: 'select',
  show: 'other',
  insert: 'insert',
  update: 'update',
  delete: 'delete',
  merge: 'update',
  copy: 'copy',
  create: 'ddl',
  alter: 'ddl',
  drop: 'ddl',
  truncate: 'ddl',
  comment: 'ddl',
  grant: 'ddl',
  revoke: 'ddl',
  reindex: 'ddl',
  cluster: 'ddl',
  refresh: 'ddl',
  begin: 'tcl',
  start: 'tcl',
  commit: 'tcl',
  end: 'tcl',
  rollback: 'tcl',
  abort: 'tcl',
  savepoint: 'tcl',
  release: 'tcl',
  prepare: 'tcl',
};

// Character classes by table (the scan's hot path): 1 word start, 2 word char only (digit, $), 4 space.
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95) CLASS[c] = 1 | 2;
  else if ((c >= 48 && c <= 57) || c === 36) CLASS[c] = 2;
  else if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) CLASS[c] = 4;
}
const isWordStart = (c: number) => (c < 128 ? (CLASS[c] & 1) !== 0 : c === c /* not NaN */);
const isWordChar = (c: number) => (c < 128 ? (CLASS[c] & 2) !== 0 : c === c);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c < 128 && CLASS[c] === 4;

const OPERATOR_CODES = new Uint8Array(128);
for (const ch of '<>=!~@#%^&|`*/+-?') OPERATOR_CODES[ch.charCodeAt(0)] = 1;
const isOperator = (c: number) => c < 128 && OPERATOR_CODES[c] === 1;

/**
 * Texts normalized before, by the hash of their token stream with literals masked (shapeHash): a
 * statement that differs from an earlier one only in its literals, whitespace or keyword case is not
 * normalized again. Two 32-bit hashes make a 53-bit key (as pg_stat_statements' 64-bit queryid, not
 * verified: a collision among a few thousand shapes has a probability under 1e-9).
 */
const cache = new Map<number, Normalized>();
const CACHE_MAX = 20000;

export function normalizeQuery(sql: string): Normalized {
  const key = shapeHash(sql);
  let r = cache.get(key);
  if (r === undefined) {
    r = normalizeUncached(sql);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, r);
  }
  return r;
}

/** A token boundary, then the token's kind (so that "ab" and "a b", "?" and '?' differ). */
const TOKEN = 0x110000;
const LITERAL = 0x110001;
const FNV_PRIME = 16777619;

// Classes for shapeHash's dispatch (0: a character that is a token of its own).
const C_SPACE = 1;
const C_WORD = 2; // starts a word: a letter, _ (and any non-ASCII character)
const C_DIGIT = 3;
const C_QUOTE = 4;
const C_DQUOTE = 5;
const C_DOLLAR = 6;
const C_DOT = 7;
const C_COLON = 8;
const C_DASH = 9;
const C_SLASH = 10;
const C_OPERATOR = 11; // the other operator characters
const SHAPE_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (CLASS[c] === 4) SHAPE_CLASS[c] = C_SPACE;
  else if (CLASS[c] & 1) SHAPE_CLASS[c] = C_WORD;
  else if (isDigit(c)) SHAPE_CLASS[c] = C_DIGIT;
  else if (isOperator(c)) SHAPE_CLASS[c] = c === 45 ? C_DASH : c === 47 ? C_SLASH : C_OPERATOR;
}
SHAPE_CLASS[39] = C_QUOTE;
SHAPE_CLASS[34] = C_DQUOTE;
SHAPE_CLASS[36] = C_DOLLAR;
SHAPE_CLASS[46] = C_DOT;
SHAPE_CLASS[58] = C_COLON;

/**
 * The hash of what normalizeUncached would emit, without building it: the same scan (keep the two in
 * step; test/unit/logdigest/normalize.test.ts checks them against each other), literals as one
 * marker, unquoted words lower-cased, everything else as written. Two hashes of that stream, FNV-1a
 * and a polynomial one, independent of each other.
 *
 * This runs on every statement, so it is written for speed: over the text's code units in an array
 * (codeUnits), one dispatch per token on a class table, a tight loop for words (most of a
 * statement), the state in locals, and no read past the end of the text (an out-of-bounds read would
 * make V8 throw away its optimized code).
 */
export function shapeHash(sql: string): number {
  const n = sql.length;
  const u = codeUnits(sql);
  // the seeds as int32 (| 0), as the loop keeps them: above 2^31 they made V8 hold both as doubles
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9747b28c | 0;
  let i = 0;
  while (i < n) {
    const c = u[i];
    const next = i + 1 < n ? u[i + 1] : -1;
    // the token: chars [i, j) hashed after a TOKEN marker, or a LITERAL marker alone
    let j = i + 1;
    let kind = TOKEN;
    switch (c < 128 ? SHAPE_CLASS[c] : C_WORD) {
      case C_SPACE:
        i++;
        continue;
      case C_WORD:
        if (next === 39 && isLiteralPrefix(c) && (i === 0 || !isWordChar(u[i - 1]))) {
          j = stringEnd(u, n, i + 2, c === 69 || c === 101); // E'...', B'...', X'...', N'...'
          kind = LITERAL;
          break;
        }
        // a word, ASCII upper case as lower case (other letters as written: toLowerCase maps them in
        // the output, so two spellings only make two cache entries)
        h1 = Math.imul(h1 ^ TOKEN, FNV_PRIME);
        h2 = (Math.imul(h2, 31) + TOKEN) | 0;
        for (let d = c; ;) {
          if (d >= 65 && d <= 90) d += 32;
          h1 = Math.imul(h1 ^ d, FNV_PRIME);
          h2 = (Math.imul(h2, 31) + d) | 0;
          if (++i === n) break;
          d = u[i];
          if (!isWordChar(d)) break;
        }
        continue;
      case C_QUOTE:
        j = stringEnd(u, n, i + 1, false);
        kind = LITERAL;
        break;
      case C_DIGIT:
        j = numberEnd(u, n, i + 1);
        kind = LITERAL;
        break;
      case C_DOT:
        if (isDigit(next)) {
          j = numberEnd(u, n, i + 1);
          kind = LITERAL;
        }
        break;
      case C_DOLLAR:
        if (isDigit(next)) {
          while (j < n && isDigit(u[j])) j++;
          kind = LITERAL;
        } else {
          const close = sql.indexOf('$', i + 1);
          const tag = close < 0 ? '' : sql.slice(i, close + 1);
          if (/^\$[A-Za-z_][A-Za-z_0-9]*\$$|^\$\$$/.test(tag)) {
            const end = sql.indexOf(tag, close + 1);
            j = end < 0 ? n : end + tag.length;
            kind = LITERAL;
          }
        }
        break;
      case C_DQUOTE:
        while (j < n) {
          if (u[j] === 34) {
            if (j + 1 < n && u[j + 1] === 34) j += 2;
            else break;
          } else j++;
        }
        j = j < n ? j + 1 : n; // the closing quote is part of the token
        break;
      case C_COLON:
        if (next === 58) j = i + 2;
        break;
      case C_DASH:
        if (next === 45) {
          const eol = sql.indexOf('\n', i);
          i = eol < 0 ? n : eol;
          continue;
        }
        j = operatorEnd(u, n, j);
        break;
      case C_SLASH:
        if (next === 42) {
          const end = sql.indexOf('*/', i + 2);
          i = end < 0 ? n : end + 2;
          continue;
        }
        j = operatorEnd(u, n, j);
        break;
      case C_OPERATOR:
        j = operatorEnd(u, n, j);
        break;
      // ( ) , ; [ ] and any other character: one token each
    }
    h1 = Math.imul(h1 ^ kind, FNV_PRIME);
    h2 = (Math.imul(h2, 31) + kind) | 0;
    if (kind === TOKEN) {
      for (let k = i; k < j; k++) {
        const d = u[k];
        h1 = Math.imul(h1 ^ d, FNV_PRIME);
        h2 = (Math.imul(h2, 31) + d) | 0;
      }
    }
    i = j;
  }
  return (h1 >>> 0) * 2097152 + ((h2 >>> 0) & 0x1fffff);
}

/**
 * The code units of a text, as shapeHash reads them: copied by native code into an array it indexes
 * (a charCodeAt costs V8 a check of the string's representation on every call). The array is reused
 * (grown up to UNITS_KEPT; a longer text gets one of its own); only [0, text.length) is the text.
 */
let units = new Uint16Array(1 << 12);
let unitBytes = Buffer.from(units.buffer);
const UNITS_KEPT = 1 << 16;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/**
 * Node's native UTF-16LE writer, which buf.write(text, 'utf16le') ends in after checking its
 * arguments and looking the encoding up (2% of a digest's main thread): called directly, on a
 * little-endian machine where Node has it (else buf.write).
 */
const UCS2_WRITE = LITTLE_ENDIAN
  ? (Buffer.prototype as unknown as { ucs2Write?: (this: Buffer, s: string, offset: number, length: number) => number })
      .ucs2Write
  : undefined;

function codeUnits(sql: string): Uint16Array {
  let u = units;
  let bytes = unitBytes;
  if (sql.length > u.length) {
    u = new Uint16Array(Math.max(sql.length, 2 * u.length));
    bytes = Buffer.from(u.buffer);
    if (u.length <= UNITS_KEPT) [units, unitBytes] = [u, bytes];
  }
  if (UCS2_WRITE) UCS2_WRITE.call(bytes, sql, 0, bytes.length);
  else if (LITTLE_ENDIAN) bytes.write(sql, 'utf16le');
  else for (let k = 0; k < sql.length; k++) u[k] = sql.charCodeAt(k);
  return u;
}

/** The end of a quoted string whose text starts at i ('' is an escaped quote; with backslash, \' too). */
function stringEnd(u: Uint16Array, n: number, i: number, backslash: boolean): number {
  while (i < n) {
    const d = u[i];
    if (backslash && d === 92) i += 2;
    else if (d === 39) {
      if (i + 1 < n && u[i + 1] === 39) i += 2;
      else return i + 1;
    } else i++;
  }
  return i;
}

/** The end of a number whose first character is before i: digits, dots, an exponent. */
function numberEnd(u: Uint16Array, n: number, i: number): number {
  while (i < n) {
    const d = u[i];
    if (isDigit(d) || d === 46) i++;
    else if ((d === 101 || d === 69) && i + 1 < n && isExponentNext(u[i + 1])) i += 2;
    else break;
  }
  return i;
}

/** The end of an operator run that started before j; it stops before a sign that starts a number ("=-1"). */
function operatorEnd(u: Uint16Array, n: number, j: number): number {
  while (j < n) {
    const d = u[j];
    if (!isOperator(d) || ((d === 43 || d === 45) && j + 1 < n && isDigit(u[j + 1]))) break;
    j++;
  }
  return j;
}

const isLiteralPrefix = (c: number) =>
  c === 101 || c === 69 || c === 98 || c === 66 || c === 120 || c === 88 || c === 110 || c === 78;
const isExponentNext = (c: number) => isDigit(c) || c === 43 || c === 45;

/** Mutable state of one normalization (module level: no closures per call). */
let out = '';
let glueNext = true;

// Tokens are separated by one space, except before , ) ] . :: ; and after ( [ . ::
function emit(tok: string, glueBefore = false, glueAfter = false): void {
  if (!glueBefore && !glueNext) out += ' ';
  out += tok;
  glueNext = glueAfter;
}

function collapseLists(): void {
  for (;;) {
    if (out.endsWith('?, ?)')) {
      const k = out.lastIndexOf('(');
      if (k >= 0 && /^\((\?, )+\?\)$/.test(out.slice(k))) {
        out = out.slice(0, k) + '(?)';
        continue;
      }
    }
    if (out.endsWith('(?), (?)')) {
      out = out.slice(0, -5);
      continue;
    }
    return;
  }
}

/** The normalization itself, without the cache (normalizeQuery is what callers use). */
export function normalizeUncached(sql: string): Normalized {
  const n = sql.length;
  out = '';
  glueNext = true;
  let i = 0;
  let firstWord = '';
  let withMode = false;
  let type: StatementType | undefined;
  let depth = 0;
  while (i < n && out.length < MAX_NORMALIZED) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
    } else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      while (i < n && sql.charCodeAt(i) !== 10) i++;
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (
      c === 39 /* ' */ ||
      (sql.charCodeAt(i + 1) === 39 && /[eEbBxXnN]/.test(sql[i]) && !isWordChar(sql.charCodeAt(i - 1)))
    ) {
      // '...', E'...', B'...', X'...', N'...' ('' is an escaped quote; E strings also take \')
      const backslash = c === 69 || c === 101;
      i += c === 39 ? 1 : 2;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (backslash && d === 92) i += 2;
        else if (d === 39) {
          if (sql.charCodeAt(i + 1) === 39) i += 2;
          else {
            i++;
            break;
          }
        } else i++;
      }
      emit('?');
    } else if (c === 36 /* $ */ && isDigit(sql.charCodeAt(i + 1))) {
      i++;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
      emit('?');
    } else if (c === 36) {
      // dollar quoting: $$...$$ or $tag$...$tag$
      const close = sql.indexOf('$', i + 1);
      const tag = close < 0 ? '' : sql.slice(i, close + 1);
      if (!/^\$[A-Za-z_][A-Za-z_0-9]*\$$|^\$\$$/.test(tag)) {
        emit('$');
        i++;
      } else {
        const end = sql.indexOf(tag, close + 1);
        i = end < 0 ? n : end + tag.length;
        emit('?');
      }
    } else if (c === 34 /* " */) {
      let j = i + 1;
      while (j < n) {
        if (sql.charCodeAt(j) === 34) {
          if (sql.charCodeAt(j + 1) === 34) j += 2;
          else break;
        } else j++;
      }
      emit(sql.slice(i, j + 1));
      i = j + 1;
    } else if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (isDigit(d) || d === 46) i++;
        else if ((d === 101 || d === 69) && /[0-9+-]/.test(sql[i + 1] ?? '')) i += 2;
        else break;
      }
      emit('?');
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordChar(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toLowerCase();
      if (firstWord === '') {
        firstWord = word;
        if (word === 'with') withMode = true;
        else type = TYPE_OF[word] ?? 'other';
      } else if (withMode && depth === 0 && type === undefined) {
        const t = TYPE_OF[word];
        if (t === 'select' || t === 'insert' || t === 'update' || t === 'delete') type = t;
      }
      emit(word);
      i = j;
    } else if (c === 40 /* ( */) {
      depth++;
      emit('(', false, true);
      i++;
    } else if (c === 41 /* ) */) {
      depth = Math.max(0, depth - 1);
      emit(')', true);
      i++;
      collapseLists();
    } else if (c === 44 /* , */ || c === 59 /* ; */) {
      emit(sql[i], true);
      i++;
    } else if (c === 91 /* [ */ || c === 46 /* . */) {
      emit(sql[i], true, true);
      i++;
    } else if (c === 93 /* ] */) {
      emit(']', true);
      i++;
    } else if (c === 58 /* : */ && sql.charCodeAt(i + 1) === 58) {
      emit('::', true, true);
      i += 2;
    } else if (isOperator(c)) {
      let j = i + 1;
      // an operator run stops before a sign that starts a number ("=-1" is "=" then "-1")
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (!isOperator(d) || ((d === 43 || d === 45) && isDigit(sql.charCodeAt(j + 1)))) break;
        j++;
      }
      emit(sql.slice(i, j));
      i = j;
    } else {
      emit(sql[i]);
      i++;
    }
  }
  let query = out;
  while (query.endsWith(';') || query.endsWith(' ')) query = query.slice(0, -1);
  if (i < n) query += ' ...';
  out = '';
  // a flat copy: the result must not keep the log chunk it was sliced from alive
  return { query: detach(query), type: type ?? 'other' };
}

/** A flat copy of s that does not keep a larger parent string (a whole read chunk) alive. */
export function detach(s: string): string {
  return s.length === 0 ? '' : (' ' + s).slice(1);
}
