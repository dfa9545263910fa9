/**
 * Loopback addresses that look like a cut network path from here: a black hole accepts the TCP
 * connection and never answers (a connect or query times out), a closed port refuses at once.
 */
import { createServer, type Server, type Socket } from 'node:net';

export class BlackHoles {
  private readonly holes: { server: Server; sockets: Socket[] }[] = [];

  /** A port that accepts connections and never answers. */
  async open(): Promise<number> {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    this.holes.push({ server, sockets });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  async closeAll(): Promise<void> {
    for (const h of this.holes.splice(0)) {
      for (const s of h.sockets) s.destroy();
      await new Promise((r) => h.server.close(r));
    }
  }
}

/** A port nothing listens on: connections are refused at once. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
