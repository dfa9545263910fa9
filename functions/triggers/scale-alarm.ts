/**
 * Elastic read capacity from alarms (functions/metrics/alarms.json, `starts`): sustained read load on the
 * standbys starts the scale-out workflow on an instance the InstanceControl port provisions (AWS: a
 * spare node instance of the stack, running with PostgreSQL stopped; lab: a new node), and a long
 * quiet spell starts the scale-in workflow for the most recently added standby. Bounds
 * (PGWARDEN_MIN_STANDBYS / PGWARDEN_MAX_STANDBYS) keep an alarm from shrinking the cluster below its
 * designed redundancy or growing it without limit; a busy or paused cluster ignores the alarm (the
 * alarm's own notification still reaches the operator).
 */
import type { AlarmDefinition } from '../lib/alarms';
import { NoCapacityError, type Deps } from '../lib/ports';
import { settings } from '../lib/settings';
import { live } from '../planned/common';
import { RefusedError, startPlanned, type PlannedStart } from './planned';

export type ScaleAlarmOutcome = PlannedStart | { action: 'ignored'; reason: string };

export async function scaleOnAlarm(deps: Deps, alarm: AlarmDefinition, reason: string): Promise<ScaleAlarmOutcome> {
  const t = await deps.topology.get(deps.cluster);
  const s = settings();
  const standbys = live(t).filter((n) => n.role === 'standby').length;
  try {
    if (alarm.starts === 'scale-out') {
      if (standbys >= s.maxStandbys)
        return { action: 'ignored', reason: `${standbys} standbys already (PGWARDEN_MAX_STANDBYS=${s.maxStandbys})` };
      const node = await deps.instances.provision(t);
      return await startPlanned(deps, 'scale-out', [node.name], { reason, node });
    }
    if (alarm.starts === 'scale-in') {
      if (standbys <= s.minStandbys)
        return { action: 'ignored', reason: `${standbys} standbys only (PGWARDEN_MIN_STANDBYS=${s.minStandbys})` };
      return await startPlanned(deps, 'scale-in', [], { reason });
    }
  } catch (e) {
    if (e instanceof RefusedError || e instanceof NoCapacityError) {
      deps.log(`alarm ${alarm.name}: ${alarm.starts} not started`, { reason: e.message });
      return { action: 'ignored', reason: e.message };
    }
    throw e;
  }
  return { action: 'ignored', reason: `alarm ${alarm.name} starts ${String(alarm.starts)}, not a scaling workflow` };
}
