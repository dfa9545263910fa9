/**
 * The events EventBridge delivers, as the lab's stand-ins emit them: a CloudWatch alarm's state change
 * and an EC2 instance's. Plain data (the only runtime import is the metric namespace, itself data):
 * the sensors, the lab (a fenced node's instance reported running) and tests build them.
 */
import type { AlarmDefinition } from '../../../functions/lib/alarms';
import { METRIC_NAMESPACE } from '../../../functions/lib/ports';

export interface BusEvent {
  source: string;
  'detail-type': string;
  time?: string;
  detail: Record<string, unknown>;
  [k: string]: unknown;
}

/** The event EventBridge delivers for an alarm state change. */
export function alarmEvent(
  name: string,
  a: AlarmDefinition,
  cluster: string,
  dims: Record<string, string>,
  prev: string,
  next: string,
): BusEvent {
  return envelope('aws.cloudwatch', 'CloudWatch Alarm State Change', `cloudwatch:lab:000000000000:alarm:${name}`, {
    alarmName: name,
    state: {
      value: next,
      reason: `${a.metric} ${a.statistic} ${a.comparison} ${a.threshold}`,
      timestamp: new Date().toISOString(),
    },
    previousState: { value: prev },
    configuration: {
      metrics: [
        {
          id: 'm1',
          metricStat: {
            metric: { namespace: METRIC_NAMESPACE, name: a.metric, dimensions: { Cluster: cluster } },
            stat: a.statistic,
          },
        },
      ],
    },
  });
}

/** The event EventBridge delivers for an EC2 instance state change. */
export function ec2Event(instanceId: string, state: string): BusEvent {
  return envelope('aws.ec2', 'EC2 Instance State-change Notification', `ec2:lab:000000000000:instance/${instanceId}`, {
    'instance-id': instanceId,
    state,
  });
}

/** What every event carries around its detail: the lab's account and region, the resource's ARN. */
function envelope(source: string, detailType: string, arn: string, detail: Record<string, unknown>): BusEvent {
  return {
    version: '0',
    id: `lab-${Date.now()}`,
    source,
    'detail-type': detailType,
    account: '000000000000',
    region: 'lab',
    time: new Date().toISOString(),
    resources: [`arn:aws:${arn}`],
    detail,
  };
}
