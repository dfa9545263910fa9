/**
 * Verification from the clients' side, shared by every workflow that changes who takes writes: a
 * committed write through every pgpool endpoint, retried until a deadline. A failure throws (the
 * workflow notifies) rather than reporting success.
 *
 * A pgpool that counts the primary down (one failed health check, or a partition between the two
 * that has healed since) routes writes nowhere and never attaches it by itself. The prober's heal
 * attaches it, but not while a workflow holds the lease — and this workflow holds it until its
 * verify passes. So between failed writes through such a pgpool, verify attaches the primary there
 * itself (pgpool-attach.sh attaches only a backend that pgpool host can reach), at most every 2 s.
 */
import { replicationOf, pgpoolBackends, withClient } from './db';
import { attachIn } from './pgpool-route';
import { pollUntil } from './poll';
import type { Deps } from './ports';
import { settings } from './settings';
import type { NodeSpec, PgpoolSpec, Topology } from './topology';

export interface PgpoolWrite {
  /** Duration of the attempt that committed. */
  ms: number;
  attempts: number;
  /** The primary was down in this pgpool and verify attached it. */
  attachedPrimary?: true;
}

const ATTACH_EVERY_MS = 2_000;

/** Attach the topology's primary in `p` when p counts it down; true when an attach took. */
async function attachPrimaryIfDown(deps: Deps, t: Topology, p: PgpoolSpec): Promise<boolean> {
  const primary = t.nodes.find((n) => n.name === t.primary);
  if (!primary) return false;
  const s = settings();
  const view = await pgpoolBackends(p, await deps.secrets.pgpool(), s.probeTimeoutMs * 2).catch(() => undefined);
  if (view?.find((v) => v.id === primary.backendId)?.status !== 'down') return false;
  const r = await attachIn(deps, p, primary);
  deps.log(
    r.attached
      ? `verify: pgpool ${p.name} counted the primary ${primary.name} down: attached again`
      : `verify: pgpool ${p.name} counts the primary ${primary.name} down and it was not attached (${r.why || 'no reason'})`,
  );
  return r.attached;
}

export async function writeThroughEveryPgpool(
  deps: Deps,
  t: Topology,
  execution: string,
  deadline = deps.now().getTime() + settings().verifyTimeoutMs,
): Promise<Record<string, PgpoolWrite>> {
  const s = settings();
  const creds = await deps.secrets.pgpool();
  const writes: Record<string, PgpoolWrite> = {};
  const now = () => deps.now().getTime();
  for (const p of t.pgpools) {
    let lastAttach = 0;
    let attachedPrimary = false;
    let attempts = 0;
    let failed: unknown;
    writes[p.name] = await pollUntil<PgpoolWrite>(
      deps,
      async () => {
        attempts++;
        const t0 = now();
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
          return { ms: now() - t0, attempts, ...(attachedPrimary ? { attachedPrimary } : {}) };
        } catch (e) {
          failed = e;
          return undefined;
        }
      },
      {
        deadline,
        intervalMs: 100,
        onTimeout: () => {
          throw new Error(`no committed write through ${p.name}: ${(failed as Error).message}`, { cause: failed });
        },
        meanwhile: async () => {
          if (now() - lastAttach >= ATTACH_EVERY_MS) {
            lastAttach = now();
            if (await attachPrimaryIfDown(deps, t, p)) attachedPrimary = true;
          }
        },
      },
    );
  }
  return writes;
}

/**
 * The standbys streaming from `primary` (name and sync state), once every one of `expected` streams or
 * the deadline (epoch ms) has passed: the caller decides what missing ones mean (the failover reports
 * the cluster degraded, a planned workflow fails).
 */
export async function waitStreaming(
  deps: Pick<Deps, 'secrets' | 'now' | 'sleep'>,
  primary: NodeSpec,
  expected: string[],
  deadline: number,
  intervalMs: number,
): Promise<{ name: string; syncState: string }[]> {
  const s = settings();
  const creds = await deps.secrets.admin();
  let rows: { name: string; syncState: string }[] = [];
  await pollUntil(
    deps,
    async () => {
      rows = (await replicationOf(primary, creds, s.probeTimeoutMs).catch(() => [])).filter(
        (r) => r.state === 'streaming',
      );
      return expected.every((n) => rows.some((r) => r.name === n)) ? true : undefined;
    },
    { deadline, intervalMs, onTimeout: () => false },
  );
  return rows;
}
