/**
 * CloudWatch Alarm State Change (as EventBridge delivers it) -> the workflow the alarm `starts`
 * (functions/metrics/alarms.json): failover, or scale out/in (scale-alarm.ts). Only a transition INTO ALARM
 * of one of this cluster's alarms that starts something acts; OK/INSUFFICIENT_DATA and other alarms
 * are ignored with a reason. For a failover the failing node comes from the alarm's Node dimension
 * when it has one; otherwise the primary of record is the suspect.
 */
import { ALARMS, alarmName } from '../lib/alarms';
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { InvalidEventError, isObject, startFailover, type TriggerOutcome } from './common';
import { scaleOnAlarm, type ScaleAlarmOutcome } from './scale-alarm';

export async function handle(event: unknown, deps: Deps): Promise<TriggerOutcome | ScaleAlarmOutcome> {
  if (!isObject(event)) throw new InvalidEventError('event must be a JSON object');
  if (event.source !== 'aws.cloudwatch' || event['detail-type'] !== 'CloudWatch Alarm State Change') {
    throw new InvalidEventError(
      `not a CloudWatch Alarm State Change event (source=${String(event.source)}, detail-type=${String(event['detail-type'])})`,
    );
  }
  const d = event.detail;
  if (!isObject(d) || typeof d.alarmName !== 'string' || !isObject(d.state) || typeof d.state.value !== 'string') {
    throw new InvalidEventError('alarm event has no detail.alarmName or detail.state.value');
  }
  const def = ALARMS.find((a) => a.starts && alarmName(deps.cluster, a) === d.alarmName);
  if (!def)
    return {
      action: 'ignored',
      reason: `alarm ${d.alarmName} is not an alarm of cluster ${deps.cluster} that starts a workflow`,
    };
  if (d.state.value !== 'ALARM') return { action: 'ignored', reason: `alarm ${d.alarmName} went to ${d.state.value}` };
  const why = `${d.alarmName}: ${typeof d.state.reason === 'string' ? d.state.reason : 'ALARM'}`;
  if (def.starts !== 'failover') return scaleOnAlarm(deps, def, why);
  const node = nodeDimension(d);
  if (node !== undefined) {
    const topo = await deps.topology.get(deps.cluster);
    if (!topo.nodes.some((n) => n.name === node)) throw new InvalidEventError(`alarm names unknown node "${node}"`);
  }
  return startFailover(deps, {
    source: 'alarm',
    reason: why,
    suspect: node,
    at: typeof event.time === 'string' && !Number.isNaN(Date.parse(event.time)) ? new Date(event.time) : undefined,
    detail: { alarmName: d.alarmName },
  });
}

function nodeDimension(d: Record<string, unknown>): string | undefined {
  const cfg = d.configuration;
  if (!isObject(cfg) || !Array.isArray(cfg.metrics)) return undefined;
  for (const m of cfg.metrics) {
    const dims =
      isObject(m) && isObject(m.metricStat) && isObject(m.metricStat.metric)
        ? m.metricStat.metric.dimensions
        : undefined;
    if (isObject(dims) && typeof dims.Node === 'string') return dims.Node;
  }
  return undefined;
}

export const handler = lambda(handle);
