/**
 * Verification from the clients' side, shared by every workflow that changes who takes writes: a
 * committed write through every pgpool endpoint, retried until a deadline. A failure throws (the
 * workflow notifies) rather than reporting success.
 */
import { withClient } from './db';
import type { Deps } from './ports';
import { settings } from './settings';
import type { Topology } from './topology';

export interface PgpoolWrite {
  /** Duration of the attempt that committed. */
  ms: number;
  attempts: number;
}

export async function writeThroughEveryPgpool(
  deps: Deps,
  t: Topology,
  execution: string,
  deadline = Date.now() + settings().verifyTimeoutMs,
): Promise<Record<string, PgpoolWrite>> {
  const s = settings();
  const creds = await deps.secrets.pgpool();
  const writes: Record<string, PgpoolWrite> = {};
  for (const p of t.pgpools) {
    for (let attempts = 1; ; attempts++) {
      const t0 = Date.now();
      try {
        await withClient(
          p,
          creds,
          s.checkTimeoutMs,
          async (c) => {
            await c.query(
              'insert into pgwarden_heartbeat values ($1, now(), $2) on conflict (source) do update set at = excluded.at, execution = excluded.execution',
              [`verify:${p.name}`, execution],
            );
          },
          'postgres',
        );
        writes[p.name] = { ms: Date.now() - t0, attempts };
        break;
      } catch (e) {
        if (Date.now() > deadline)
          throw new Error(`no committed write through ${p.name}: ${(e as Error).message}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return writes;
}
