/** The app's domain: request bodies and ids, parsed into values or a named problem. */
import { parseId, parseNewValue } from '../../../app/values';
import { isConnectionError } from '../../../app/store';
import { parseTraceHeader } from '../../../app/xray';
import { readAppConfig } from '../../../app/config';

describe('parseNewValue', () => {
  const json = 'application/json; charset=utf-8';
  it('accepts {"value": string} of 1 to 1024 characters, counting characters not bytes', () => {
    expect(parseNewValue(json, '{"value":"a"}')).toEqual({ ok: true, value: 'a' });
    expect(parseNewValue(json, JSON.stringify({ value: '😀'.repeat(1024) }))).toEqual({
      ok: true,
      value: '😀'.repeat(1024),
    });
  });
  it.each([
    [undefined, '{"value":"a"}', /content type must be application\/json, got none/],
    ['text/plain', '{"value":"a"}', /got "text\/plain"/],
    [json, '', /not valid JSON/],
    [json, 'null', /must be a JSON object/],
    [json, '"a"', /must be a JSON object/],
    [json, '{}', /"value" is missing/],
    [json, '{"value":["a"]}', /must be a string, got object/],
    [json, '{"value":true}', /must be a string, got boolean/],
    [json, JSON.stringify({ value: 'x'.repeat(1025) }), /1025 characters, at most 1024/],
    [json, JSON.stringify({ value: 'a', id: 3 }), /unknown field "id"/],
    [json, JSON.stringify({ value: 'x'.repeat(20_000) }), /larger than 16384 bytes/],
  ])('rejects (%s) %s', (type, body, problem) => {
    const r = parseNewValue(type, body);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem).toMatch(problem);
  });
});

describe('parseId', () => {
  it('accepts positive integers and nothing else', () => {
    expect(parseId('42')).toEqual({ ok: true, value: 42 });
    for (const bad of ['0', '-1', '1.5', 'abc', '1e3', '', '0012', '9999999999999999'])
      expect(parseId(bad).ok).toBe(false);
  });
});

describe('isConnectionError: what a failover explains', () => {
  it('counts lost connections, refused connects, admin shutdown, read-only standbys and timeouts', () => {
    for (const e of [
      { code: 'ECONNREFUSED' },
      { code: 'ECONNRESET' },
      { code: '57P01' },
      { code: '25006' },
      { code: '08006' },
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
    ])
      expect({ e, transient: isConnectionError(e) }).toEqual({ e, transient: true });
  });
  it('does not count a bug in a statement', () => {
    expect(isConnectionError({ code: '42P01', message: 'relation "x" does not exist' })).toBe(false);
    expect(isConnectionError({ code: '23505', message: 'duplicate key value' })).toBe(false);
  });
});

describe('parseTraceHeader', () => {
  it('takes Root and Parent from an ALB header and ignores malformed parts', () => {
    expect(parseTraceHeader('Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1')).toEqual({
      root: '1-67891233-abcdef012345678912345678',
      parent: '53995c3f42cd8ad8',
    });
    expect(parseTraceHeader('Root=nonsense')).toEqual({});
    expect(parseTraceHeader(undefined)).toEqual({});
  });
});

describe('readAppConfig', () => {
  const base = { PGWARDEN_APP_DATABASE_URL: 'postgresql://app:x@127.0.0.1:1/app' };
  it('defaults: bounded requests, cache only with Redis, tracing only with a daemon address', () => {
    const c = readAppConfig(base);
    expect(c).toMatchObject({ host: '127.0.0.1', requestTimeoutMs: 4500, cacheEnabled: false, tracing: false });
    expect(readAppConfig({ ...base, PGWARDEN_APP_REDIS_URL: 'redis://h:1' }).cacheEnabled).toBe(true);
    expect(
      readAppConfig({ ...base, PGWARDEN_APP_REDIS_URL: 'redis://h:1', PGWARDEN_APP_CACHE: 'off' }).cacheEnabled,
    ).toBe(false);
    expect(readAppConfig({ ...base, AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000' }).tracing).toBe(true);
  });
  it('names the variable that is wrong', () => {
    expect(() => readAppConfig({})).toThrow(/PGWARDEN_APP_DATABASE_URL is required/);
    expect(() => readAppConfig({ ...base, PGWARDEN_APP_PORT: 'x' })).toThrow(/PGWARDEN_APP_PORT must be an integer/);
    expect(() => readAppConfig({ ...base, PGWARDEN_APP_CACHE: 'maybe' })).toThrow(
      /PGWARDEN_APP_CACHE must be on or off/,
    );
  });
});
