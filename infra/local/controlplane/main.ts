/** The lab's control plane process: started in the background by `pgwarden lab up`. */
import '../polyfills';
import { Lab, type LabProfile } from '../lab';
import { ControlPlane } from './server';

/** The lab profile's step timings (AWS uses the defaults of functions/lib/settings.ts). */
function labTimings(p: LabProfile): void {
  process.env.PGWARDEN_PROBE_TIMEOUT_MS ??= String(p.probeTimeoutMs);
  process.env.PGWARDEN_PROBE_RETRY_DELAY_MS ??= '100';
  process.env.PGWARDEN_HEAL_BACKOFF_MS ??= '20000';
  process.env.PGWARDEN_HOOK_POLL_MS ??= '10'; // a local file, not Parameter Store
  // Strict synchronous mode is AWS's default; the lab runs degraded (asynchronous) rather than
  // waiting when a failover leaves no standby, unless PGWARDEN_SYNC_STRICT=1 at lab up.
  process.env.PGWARDEN_SYNC_STRICT ??= '0';
  // A failover that found the cluster busy or paused is tried again by the prober after this long.
  process.env.PGWARDEN_REARM_AFTER_MS ??= String(p.alarmPeriodS * 3000);
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: main.ts <lab dir>');
  const lab = new Lab({ dir, log: (m) => console.log(`${new Date().toISOString()} ${m}`) });
  // The aws-sim profile keeps AWS's step timings (functions/lib/settings.ts's defaults).
  const p = lab.config().profile;
  if (p.name !== 'aws-sim') labTimings(p);
  const cp = new ControlPlane(lab);
  await cp.start();
  const stop = () => {
    cp.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
