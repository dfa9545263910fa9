/** The lab's control plane process: started in the background by `pgwarden lab up`. */
import '../polyfills';
import { configureSettings, type SettingsProfile } from '../../../functions/lib/settings';
import { Lab, type LabProfile } from '../lab';
import { ControlPlane } from './server';

/**
 * The lab profile's step timings (AWS uses the defaults of functions/lib/settings.ts). A PGWARDEN_*
 * variable set at lab up still wins over these.
 */
function labTimings(p: LabProfile): SettingsProfile {
  return {
    probeTimeoutMs: p.probeTimeoutMs,
    probeRetryDelayMs: 100,
    healBackoffMs: 20000,
    hookPollMs: 10, // a local file, not Parameter Store
    // Strict synchronous mode is AWS's default; the lab runs degraded (asynchronous) rather than
    // waiting when a failover leaves no standby, unless PGWARDEN_SYNC_STRICT=1 at lab up.
    syncStrict: false,
    // A failover that found the cluster busy or paused is tried again by the prober after this long.
    rearmAfterMs: p.alarmPeriodS * 3000,
  };
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: main.ts <lab dir>');
  const lab = new Lab({ dir, log: (m) => console.log(`${new Date().toISOString()} ${m}`) });
  // The aws-sim profile keeps AWS's step timings (functions/lib/settings.ts's defaults).
  const p = lab.config().profile;
  if (p.name !== 'aws-sim') configureSettings(labTimings(p));
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
