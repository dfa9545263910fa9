/**
 * A session the prober holds open to the primary between its rounds. A primary whose server dies
 * ends it at once (the kernel closes a killed process's sockets, a crashed server's backends exit),
 * and its end starts the next round without waiting for the interval: the primary-unwritable
 * datapoint of a dead primary is published within a round's time, not within a probe interval. A
 * frozen or cut-off primary does not end it; the rounds and their timeout find those, as before.
 * One idle session, as the admin user (planned work's quiet check leaves those out), named apart.
 */
import type { Client } from 'pg';
import { connectClient } from '../lib/db';
import type { Deps } from '../lib/ports';

export const WATCH_APPLICATION_NAME = 'pgwarden-prober-watch';

export class PrimaryWatch {
  private client?: Client;
  private node?: string;
  private opening = false;
  /** Counts close() calls: a session whose connect ends after one is closed at once, not kept. */
  private closes = 0;

  /** `onEnd`: the held session ended (not when this side closed it). */
  constructor(private readonly onEnd: (node: string) => void) {}

  /**
   * After a round: hold a session to `primary` when the round found it writable, none otherwise.
   * Opening one waits for its connect (bounded by `timeoutMs`); a failed connect leaves none, and the
   * next round tries again.
   */
  async follow(deps: Deps, primary: string, writable: boolean, timeoutMs: number): Promise<void> {
    if (!writable) return this.close();
    if (this.client && this.node === primary) return;
    if (this.opening) return;
    this.close();
    const closes = this.closes;
    this.opening = true;
    try {
      const t = await deps.topology.get(deps.cluster);
      const n = t.nodes.find((x) => x.name === primary);
      if (!n) return;
      const c = await connectClient(n, await deps.secrets.admin(), timeoutMs);
      // A held session: no statement runs on it after this one, so no timeout applies to it.
      let dead = false;
      const ended = () => {
        dead = true;
        if (this.client !== c) return;
        this.client = undefined;
        this.node = undefined;
        c.end().catch(() => undefined);
        this.onEnd(primary);
      };
      c.on('error', ended);
      c.on('end', ended);
      try {
        await c.query(`set application_name = '${WATCH_APPLICATION_NAME}'`);
      } catch {
        dead = true;
      }
      if (dead || this.closes !== closes) {
        c.end().catch(() => undefined);
        return;
      }
      this.client = c;
      this.node = primary;
    } catch {
      // The next round tries again.
    } finally {
      this.opening = false;
    }
  }

  /** Ends the held session, and one being opened once its connect returns. */
  close(): void {
    this.closes++;
    const c = this.client;
    this.client = undefined;
    this.node = undefined;
    c?.end().catch(() => undefined);
  }
}
