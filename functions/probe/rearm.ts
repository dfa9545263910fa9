/**
 * Re-arm the failover. A CloudWatch alarm fires once, on its change to ALARM; a failover that found
 * the cluster busy (a switchover holding the lease), paused, or that failed, leaves the alarm in
 * ALARM and nothing would ever try again while the primary stays unwritable. The prober keeps
 * watching: once the primary has been unwritable for `afterMs` with no workflow holding the cluster,
 * automation active and the primary not under maintenance, it starts a failover itself (at most once
 * per `afterMs`; Assess still decides whether the failure is real). Sensors reporting the same
 * failure name the execution the same, so this never doubles a failover already on its way.
 */
import { activeLease } from '../lib/lease';
import type { Deps } from '../lib/ports';
import { startFailover, type TriggerOutcome } from '../triggers/common';
import type { ProbeRound } from './probe';

export class FailoverRearm {
  private unwritableSince?: number;
  private lastStart = -Infinity;

  constructor(private readonly afterMs: number) {}

  /** After each probe round: the failover it started, or why it did not (undefined when writable). */
  async check(deps: Deps, round: ProbeRound): Promise<TriggerOutcome | undefined> {
    const now = deps.now().getTime();
    if (round.primaryWritable) {
      this.unwritableSince = undefined;
      return undefined;
    }
    this.unwritableSince ??= now;
    const forMs = now - this.unwritableSince;
    if (forMs < this.afterMs) return { action: 'ignored', reason: `unwritable for ${forMs} ms only` };
    if (now - this.lastStart < this.afterMs)
      return { action: 'ignored', reason: 'a failover was started by the prober moments ago' };
    const t = await deps.topology.get(deps.cluster);
    const held = activeLease(t, deps.now());
    const why =
      t.primary !== round.primary
        ? `the primary changed to ${t.primary}`
        : t.paused
          ? 'automation is paused'
          : held
            ? `${held.workflow} ${held.execution} holds the cluster`
            : t.nodes.find((n) => n.name === t.primary)?.maintenance
              ? `${t.primary} is under planned maintenance`
              : undefined;
    if (why) return { action: 'ignored', reason: why };
    this.lastStart = now;
    return startFailover(deps, {
      source: 'prober',
      reason: `primary ${t.primary} unwritable for ${Math.round(forMs / 1000)} s and no workflow acts on it`,
      suspect: t.primary,
    });
  }
}
