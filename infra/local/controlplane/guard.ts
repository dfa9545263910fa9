/**
 * The lab control plane's front door. It listens on loopback, where any local process and any web
 * page the user opens can reach it; so a request must carry the lab's API token (a random value in
 * `<lab>/control/api-token`, mode 0600: only the lab's owner can read it, a web page cannot guess it),
 * name the API's own host (a DNS-rebinding page names another), and send JSON with a JSON content type
 * (an HTML form cannot). A body over the limit is answered 413 and the connection closed: the rest of
 * it is never read.
 *
 * The token travels as the first path segment (`http://127.0.0.1:<port>/<token>/v1/...`, the lab's
 * `apiUrl`), so that every client built on `lab.apiUrl` carries it without knowing about it.
 *
 * This module is the control plane's whole HTTP plumbing: the server, the checks, the body, the
 * answer, and the dispatch of a request to the route table (routes.ts, workflow-routes.ts,
 * observability.ts hold the routes themselves).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';

export const API_TOKEN_FILE = 'api-token';
export const MAX_BODY_BYTES = 1_000_000;

export class HttpError extends Error {
  constructor(
    public readonly status: number,
    msg: string,
  ) {
    super(msg);
  }
}

/** The lab's API token: read from `<controlDir>/api-token`, created (mode 0600) when missing. */
export function ensureApiToken(controlDir: string): string {
  const file = join(controlDir, API_TOKEN_FILE);
  if (!existsSync(file)) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, randomBytes(24).toString('hex'));
      closeSync(fd);
    } catch (e) {
      // Another process created it meanwhile: read theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return readApiToken(controlDir);
}

/** The token, refusing a file others could read (it would let any local user drive the lab). */
export function readApiToken(controlDir: string): string {
  const file = join(controlDir, API_TOKEN_FILE);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    throw new Error(`no API token at ${file}: run "pgwarden lab up"`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if (st.mode & 0o077) {
      throw new Error(
        `${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): remove it and run "pgwarden lab up" for a new one`,
      );
    }
    const token = readFileSync(fd, 'utf8').trim();
    if (!/^[0-9a-f]{32,}$/.test(token)) throw new Error(`${file} holds no token`);
    return token;
  } finally {
    closeSync(fd);
  }
}

const sameToken = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * Checks a request's token, host and content type; returns the API path without the token
 * (`/v1/status`). Throws HttpError 401, 403 or 415.
 */
export function admit(req: IncomingMessage, token: string, port: number): URL {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const [, first, ...rest] = url.pathname.split('/');
  if (!first || !sameToken(first, token)) throw new HttpError(401, 'missing or wrong API token');
  const host = (req.headers.host ?? '').toLowerCase();
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)
    throw new HttpError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this API`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json')
      throw new HttpError(415, `content-type must be application/json, not ${JSON.stringify(type || '(none)')}`);
  }
  url.pathname = `/${rest.join('/')}`;
  return url;
}

/**
 * The request body, at most `limit` bytes. Over the limit (declared or sent), stops reading at once
 * and fails with 413; the caller answers and closes the connection.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.pause();
      reject(new HttpError(413, `request body too large (${declared} bytes, at most ${limit})`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (d: Buffer) => {
      size += d.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new HttpError(413, `request body too large (over ${limit} bytes)`));
        return;
      }
      chunks.push(d);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Answers with JSON; after a 413 the connection is closed, so the unread rest of the body is dropped. */
export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const close = status === 413;
  res.writeHead(status, { 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(body), () => {
    if (close) req.socket.destroy();
  });
}

/** A route's answer sent as it is (not as JSON), e.g. the Prometheus text format. */
export class RawBody {
  constructor(
    readonly contentType: string,
    readonly body: string,
  ) {}
}

/** A route's answer to an admitted request: parsed JSON body, URL without the token, `:id` segment. */
export type Route = (body: unknown, url: URL, id?: string) => Promise<unknown>;

/** The API as a table: `"METHOD /path"` (a last segment `:id` matches any one segment) to its route. */
export type Routes = Record<string, Route>;

/** The route for a request: `METHOD /path` itself, else `METHOD /parent/:id`; 404 when neither exists. */
export async function dispatchRoute(
  routes: ReadonlyMap<string, Route>,
  method: string,
  url: URL,
  body: unknown,
): Promise<unknown> {
  const key = `${method} ${url.pathname}`;
  let route = routes.get(key);
  let id: string | undefined;
  if (!route) {
    const i = key.lastIndexOf('/');
    route = routes.get(`${key.slice(0, i)}/:id`);
    id = decodeURIComponent(key.slice(i + 1));
  }
  if (!route) throw new HttpError(404, `no route ${key}`);
  return route(body, url, id);
}

export interface ApiServerOptions {
  token: string;
  /** The port the API listens on (a function when it is known only after listen, e.g. port 0). */
  port: number | (() => number);
  /** Answers an admitted request: method, path without the token, parsed JSON body. */
  dispatch(method: string, url: URL, body: unknown): Promise<unknown>;
  /** The status of an error that is not an HttpError (500 by default; logged when 500). */
  statusOf?(e: unknown): number;
  log?(msg: string): void;
}

/** The control plane's HTTP server: admit, read at most MAX_BODY_BYTES of JSON, dispatch, answer JSON. */
export function createApiServer(o: ApiServerOptions): Server {
  return createServer((req, res) => {
    void (async () => {
      // Until admitted, the path holds an unchecked token: never log it.
      let where = req.method ?? '?';
      try {
        const url = admit(req, o.token, typeof o.port === 'function' ? o.port() : o.port);
        where = `${req.method} ${url.pathname}`;
        const raw = await readBody(req);
        let body: unknown = undefined;
        if (raw.length) {
          try {
            body = JSON.parse(raw);
          } catch {
            throw new HttpError(400, 'request body is not valid JSON');
          }
        }
        const out = await o.dispatch(req.method ?? 'GET', url, body);
        if (out instanceof RawBody) {
          res.writeHead(200, { 'content-type': out.contentType });
          res.end(out.body);
        } else sendJson(req, res, 200, out);
      } catch (e) {
        const status = e instanceof HttpError ? e.status : (o.statusOf?.(e) ?? 500);
        if (status === 500) o.log?.(`API error ${where}: ${(e as Error).stack}`);
        sendJson(req, res, status, { error: (e as Error).message });
      }
    })();
  });
}
