/**
 * The cluster's alarms: ONE definition, functions/metrics/alarms.json (beside the metric definitions
 * they read), read by infra/aws/alarms.js (CloudWatch alarms in the stack) and by the lab's alarm
 * evaluator, which evaluates them with the lab profile's shorter period. Its `namespace` is the
 * metric namespace everywhere (ports.ts METRIC_NAMESPACE, the IAM condition on PutMetricData).
 */
import definitions from '../metrics/alarms.json';

export interface AlarmDefinition {
  name: string;
  description: string;
  metric: string;
  /** The unit the metric is published in (the CloudWatch alarm reads only data of that unit). */
  unit: string;
  dimensions?: Record<string, string>;
  statistic: 'Minimum' | 'Maximum' | 'Average' | 'Sum' | string;
  comparison:
    | 'LessThanThreshold'
    | 'GreaterThanThreshold'
    | 'GreaterThanOrEqualToThreshold'
    | 'LessThanOrEqualToThreshold'
    | string;
  threshold: number;
  periodSeconds: number;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  treatMissingData: 'breaching' | 'notBreaching' | string;
  /** The workflow an ALARM starts (through the alarm trigger); absent = notification only. */
  starts?: string;
}

export const ALARMS: AlarmDefinition[] = definitions.alarms as AlarmDefinition[];

export function alarmName(cluster: string, a: AlarmDefinition): string {
  return `pgwarden-${cluster}-${a.name}`;
}
