/**
 * The cluster's alarms: ONE definition, read by infra/aws (CloudWatch alarms in the stack) and by
 * the lab's alarm evaluator. The lab evaluates them with its own shorter period (lab profile).
 */
export interface AlarmDefinition {
  /** Full alarm name: pgwarden-<cluster>-<suffix>. */
  suffix: string;
  description: string;
  metric: string;
  statistic: 'Minimum' | 'Maximum' | 'Average' | 'Sum';
  comparison: 'LessThanThreshold' | 'GreaterThanThreshold' | 'GreaterThanOrEqualToThreshold';
  threshold: number;
  periodSeconds: number;
  evaluationPeriods: number;
  treatMissingData: 'breaching' | 'notBreaching';
  /** What ALARM leads to: the failover workflow (EventBridge rule) or a notification only. */
  action: 'failover' | 'notify';
}

export const ALARMS: AlarmDefinition[] = [
  {
    suffix: 'primary-unwritable',
    description: 'The primary of record does not answer as a writable primary',
    metric: 'PrimaryWritable',
    statistic: 'Minimum',
    comparison: 'LessThanThreshold',
    threshold: 1,
    periodSeconds: 10,
    evaluationPeriods: 1,
    treatMissingData: 'breaching',
    action: 'failover',
  },
  {
    suffix: 'replication-lag',
    description: 'A standby lags the primary by more than 64 MB of WAL',
    metric: 'ReplicationLagBytesMax',
    statistic: 'Maximum',
    comparison: 'GreaterThanThreshold',
    threshold: 64 * 1024 * 1024,
    periodSeconds: 60,
    evaluationPeriods: 3,
    treatMissingData: 'notBreaching',
    action: 'notify',
  },
  {
    suffix: 'failover-refused',
    description: 'A failover was refused: no standby provably holds every acknowledged commit',
    metric: 'FailoverRefused',
    statistic: 'Sum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: 1,
    periodSeconds: 60,
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
    action: 'notify',
  },
  {
    suffix: 'failover-failed',
    description: 'A failover workflow failed after its retries',
    metric: 'FailoverFailed',
    statistic: 'Sum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: 1,
    periodSeconds: 60,
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
    action: 'notify',
  },
];

export function alarmName(cluster: string, a: AlarmDefinition): string {
  return `pgwarden-${cluster}-${a.suffix}`;
}
