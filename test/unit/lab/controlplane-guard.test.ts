/**
 * The lab control plane's front door (infra/local/controlplane/guard.ts), over real HTTP on loopback:
 * the server the control plane runs, with a recording route in place of the lab's.
 */
import { mkdtempSync, chmodSync, statSync, writeFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  API_TOKEN_FILE,
  MAX_BODY_BYTES,
  createApiServer,
  ensureApiToken,
  readApiToken,
} from '../../../infra/local/controlplane/guard';

let dir: string;
let server: Server;
let port: number;
let token: string;
const calls: { method: string; path: string; body: unknown }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-guard-'));
  token = ensureApiToken(dir);
  server = createApiServer({
    token,
    port: () => port,
    dispatch: async (method, url, body) => {
      calls.push({ method, path: url.pathname, body });
      return { ok: true };
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  calls.length = 0;
});

const base = () => `http://127.0.0.1:${port}`;
const json = { 'content-type': 'application/json' };

describe('the API token', () => {
  it('is written once, mode 0600, and read back the same', () => {
    expect(statSync(join(dir, API_TOKEN_FILE)).mode & 0o777).toBe(0o600);
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(ensureApiToken(dir)).toBe(token);
  });

  it('is refused when others could read it, or when the lab has none', () => {
    const other = mkdtempSync(join(tmpdir(), 'pgw-guard-'));
    try {
      expect(() => readApiToken(other)).toThrow('no API token');
      writeFileSync(join(other, API_TOKEN_FILE), 'ab'.repeat(24), { mode: 0o644 });
      chmodSync(join(other, API_TOKEN_FILE), 0o644);
      expect(() => readApiToken(other)).toThrow('readable by others (mode 644)');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('the control plane refuses', () => {
  it('a request without the token, or with a wrong one, and runs nothing', async () => {
    const none = await fetch(`${base()}/v1/failover`, { method: 'POST', headers: json, body: '{}' });
    const wrong = await fetch(`${base()}/${'0'.repeat(48)}/v1/failover`, { method: 'POST', headers: json, body: '{}' });
    const short = await fetch(`${base()}/${token.slice(0, 10)}/v1/status`);
    expect([none.status, wrong.status, short.status]).toEqual([401, 401, 401]);
    expect(await none.json()).toEqual({ error: 'missing or wrong API token' });
    expect(calls).toEqual([]);
  });

  it('a form post (a web page can send one to loopback), with the token even', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
      const r = await fetch(`${base()}/${token}/v1/failover`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: 'reason=csrf',
      });
      expect({ type, status: r.status }).toEqual({ type, status: 415 });
    }
    const untyped = await fetch(`${base()}/${token}/v1/pause`, { method: 'POST' });
    expect(untyped.status).toBe(415);
    expect(calls).toEqual([]);
  });

  it('a request naming another host (DNS rebinding)', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`GET /${token}/v1/status HTTP/1.1\r\nHost: attacker.example:${port}\r\nConnection: close\r\n\r\n`);
      });
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    expect(r).toMatch(/^HTTP\/1\.1 403/);
    expect(calls).toEqual([]);
  });

  it('a body over the limit: answers 413 and stops reading (the connection closes before the body is sent)', async () => {
    // Declared too large: answered before any of the body is read.
    const declared = await rawPost(`Content-Length: ${MAX_BODY_BYTES * 50}\r\n`, () => undefined);
    expect(declared.response).toMatch(/^HTTP\/1\.1 413/);
    expect(declared.response).toMatch(/connection: close/i);
    expect(declared.sentBytes).toBe(0);

    // Chunked, no length: cut off once over the limit, long before the 50 MB the client would send.
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const streamed = await rawPost('Transfer-Encoding: chunked\r\n', (s, sent) => {
      if (sent >= MAX_BODY_BYTES * 50) return s.end('0\r\n\r\n');
      s.write(`${chunk.length.toString(16)}\r\n`);
      s.write(chunk);
      s.write('\r\n');
      return chunk.length;
    });
    expect(streamed.response).toMatch(/^HTTP\/1\.1 413/);
    expect(streamed.closedBeforeEnd).toBe(true);
    expect(streamed.sentBytes).toBeLessThan(MAX_BODY_BYTES * 50);
    expect(calls).toEqual([]);
  });
});

describe('the control plane admits', () => {
  it('the token holder sending JSON, and hands the route the path without the token', async () => {
    const r = await fetch(`${base()}/${token}/v1/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ reason: 'patch night' }),
    });
    const g = await fetch(`${base()}/${token}/v1/status`);
    expect([r.status, g.status]).toEqual([200, 200]);
    expect(calls).toEqual([
      { method: 'POST', path: '/v1/pause', body: { reason: 'patch night' } },
      { method: 'GET', path: '/v1/status', body: undefined },
    ]);
  });

  it('but not a body that is not JSON', async () => {
    const r = await fetch(`${base()}/${token}/v1/pause`, { method: 'POST', headers: json, body: '{nope' });
    expect(r.status).toBe(400);
    expect(calls).toEqual([]);
  });
});

/** A POST with raw headers; `write` sends more of the body each time the socket drains, until it ends it. */
function rawPost(
  headers: string,
  write: (s: net.Socket, sent: number) => number | undefined | net.Socket,
): Promise<{ response: string; sentBytes: number; closedBeforeEnd: boolean }> {
  return new Promise((resolve) => {
    let response = '';
    let sent = 0;
    let ended = false;
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(
        `POST /${token}/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n${headers}\r\n`,
      );
      pump();
    });
    const pump = () => {
      while (!s.destroyed && !ended) {
        const n = write(s, sent);
        if (typeof n !== 'number') {
          ended = n !== undefined;
          return;
        }
        sent += n;
        if (s.writableNeedDrain) return void s.once('drain', pump);
      }
    };
    s.on('data', (d) => (response += d.toString()));
    s.on('error', () => undefined); // EPIPE/ECONNRESET: the server closed on us, as it should
    s.on('close', () => resolve({ response, sentBytes: sent, closedBeforeEnd: !ended }));
  });
}
