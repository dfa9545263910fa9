/**
 * The cluster's alarms: ONE definition, infra/aws/alarms.json, read by infra/aws/alarms.js
 * (CloudWatch alarms in the stack) and by the lab's alarm evaluator, which evaluates them with the
 * lab profile's shorter period.
 */
import definitions from '../../infra/aws/alarms.json';

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

export const METRIC_NAMESPACE_OF_ALARMS: string = definitions.namespace;
export const ALARMS: AlarmDefinition[] = definitions.alarms as AlarmDefinition[];

export function alarmName(cluster: string, a: AlarmDefinition): string {
  return `pgwarden-${cluster}-${a.name}`;
}
