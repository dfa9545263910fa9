/** HTTP API of the lab's control plane (loopback only): what the CLI, drills, tests and dashboard use. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Lab } from '../lab';

export class HttpError extends Error {
  constructor(
    public readonly status: number,
    msg: string,
  ) {
    super(msg);
  }
}

type Route = (req: IncomingMessage, body: unknown, url: URL) => Promise<unknown>;

export class ControlPlane {
  private server?: Server;
  private readonly routes = new Map<string, Route>();

  constructor(readonly lab: Lab) {
    this.route('GET /v1/health', async () => ({ ok: true, dir: this.lab.dir, pid: process.pid }));
    this.route('GET /v1/status', async () => this.lab.status());
  }

  route(key: string, fn: Route): void {
    this.routes.set(key, fn);
  }

  async start(): Promise<void> {
    const port = this.lab.config().apiPort;
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.lab.log(`control plane listening on http://127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const key = `${req.method} ${url.pathname}`;
      let route = this.routes.get(key);
      if (!route) {
        // One level of path parameters: /v1/executions/:name
        const parent = key.slice(0, key.lastIndexOf('/')) + '/:id';
        route = this.routes.get(parent);
      }
      if (!route) throw new HttpError(404, `no route ${key}`);
      const raw = await readBody(req);
      let body: unknown = undefined;
      if (raw.length) {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new HttpError(400, 'request body is not valid JSON');
        }
      }
      send(200, await route(req, body, url));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      send(status, { error: (e as Error).message });
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.on('data', (d: Buffer) => {
      s += d.toString();
      if (s.length > 1_000_000) reject(new HttpError(413, 'request body too large'));
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}
