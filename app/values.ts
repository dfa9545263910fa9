/**
 * The app's domain: what a value is, and how a request body becomes one. Plain functions over plain
 * data; the HTTP layer maps a rejection to 400 with its message.
 */
export const MAX_VALUE_CHARS = 1024;
export const MAX_BODY_BYTES = 16 * 1024;

export interface StoredValue {
  id: number;
  value: string;
  /** The committing transaction's timestamp (the row's created_at, what TransactionsLast10Min counts). */
  committedAt: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A POST /api/values body: exactly {"value": string of 1..1024 characters}, sent as JSON. */
export function parseNewValue(contentType: string | undefined, raw: string): Parsed<string> {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    return { ok: false, problem: `content type must be application/json, got ${type ? `"${type}"` : 'none'}` };
  }
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES)
    return { ok: false, problem: `body is larger than ${MAX_BODY_BYTES} bytes` };
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, problem: 'body is not valid JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, problem: 'body must be a JSON object {"value": "..."}' };
  }
  const fields = Object.keys(body);
  const unknown = fields.filter((f) => f !== 'value');
  if (unknown.length) return { ok: false, problem: `unknown field ${unknown.map((f) => `"${f}"`).join(', ')}` };
  if (!fields.includes('value')) return { ok: false, problem: 'field "value" is missing' };
  const value = (body as { value: unknown }).value;
  if (typeof value !== 'string') {
    return { ok: false, problem: `field "value" must be a string, got ${value === null ? 'null' : typeof value}` };
  }
  const chars = [...value].length;
  if (chars < 1) return { ok: false, problem: 'field "value" is empty (1 to 1024 characters)' };
  if (chars > MAX_VALUE_CHARS) {
    return { ok: false, problem: `field "value" has ${chars} characters, at most ${MAX_VALUE_CHARS} are allowed` };
  }
  // PostgreSQL text cannot hold NUL: reject it here rather than fail in the database.
  if (value.includes('\u0000')) return { ok: false, problem: 'field "value" contains a NUL character' };
  return { ok: true, value };
}

/** A value id in a path: a positive integer that fits a bigint. */
export function parseId(raw: string): Parsed<number> {
  if (!/^[1-9]\d{0,14}$/.test(raw)) return { ok: false, problem: `id must be a positive integer, got "${raw}"` };
  return { ok: true, value: Number(raw) };
}
