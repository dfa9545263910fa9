/**
 * Scheduled prober Lambda (EventBridge schedule, every minute). Within one invocation it probes every
 * PGWARDEN_PROBE_EVERY_S seconds (default 2: a failed write probe reaches the one-datapoint, 10 s
 * primary-unwritable alarm within 2 s) for just under a minute, so the primary-unwritable
 * alarm sees a high-resolution metric without a Lambda running all the time. After each round it
 * starts a check that re-attaches a standby a pgpool detached although it streams (heal.ts;
 * PGWARDEN_HEAL=0 turns it off); the check runs beside the next rounds, which do not wait for it.
 * Between rounds it holds a session to the primary (watch.ts): when that session ends, the next round
 * starts at once instead of after the interval.
 */
import { awsDeps } from '../lib/aws/deps';
import { withInvocationLog, type LambdaContext } from '../lib/aws/logger';
import { settings } from '../lib/settings';
import { BackgroundHeal } from './heal';
import { probeCluster } from './probe';
import { FailoverRearm } from './rearm';
import { PrimaryWatch } from './watch';

export async function handler(
  event?: unknown,
  context?: LambdaContext,
): Promise<{ rounds: number; lastPrimaryWritable: boolean }> {
  return withInvocationLog(event, context, () => probeForAMinute());
}

async function probeForAMinute(): Promise<{ rounds: number; lastPrimaryWritable: boolean }> {
  const deps = awsDeps();
  const every = settings().probeEveryMs;
  const now = () => deps.now().getTime();
  const until = now() + 55_000;
  let rounds = 0;
  let last: boolean;
  const rearm = settings().rearmAfterMs > 0 ? new FailoverRearm(settings().rearmAfterMs) : undefined;
  const heal = new BackgroundHeal();
  let ended: boolean;
  let wake: (() => void) | undefined;
  const watch = new PrimaryWatch(() => {
    ended = true;
    wake?.();
  });
  for (;;) {
    const t0 = now();
    const round = await probeCluster(deps);
    last = round.primaryWritable;
    ended = false;
    void watch.follow(deps, round.primary, last, settings().probeTimeoutMs);
    await rearm?.check(deps, round).catch((e: Error) => deps.log('failover re-arm failed', { error: e.message }));
    if (last && settings().heal)
      heal.start(
        deps,
        round.streaming,
        () => undefined,
        (e) => deps.log('heal check failed', { error: e.message }),
      );
    rounds++;
    if (now() + every > until) break;
    if (!ended)
      await Promise.race([deps.sleep(Math.max(0, every - (now() - t0))), new Promise<void>((r) => (wake = r))]);
    wake = undefined;
  }
  watch.close();
  await heal.settled();
  return { rounds, lastPrimaryWritable: last };
}
