/** The cluster's alarms and their states (CloudWatch DescribeAlarms), for `pgwarden status`. */
import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';

export interface AlarmView {
  name: string;
  state: string;
  reason: string;
  since?: string;
}

export class CloudWatchAlarms {
  constructor(private readonly cloudwatch: CloudWatchClient) {}

  /** Every metric and composite alarm whose name starts with `prefix`, every page. */
  async list(prefix: string): Promise<AlarmView[]> {
    const out: AlarmView[] = [];
    let NextToken: string | undefined;
    do {
      const r = await this.cloudwatch.send(
        new DescribeAlarmsCommand({
          AlarmNamePrefix: prefix,
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          NextToken,
        }),
      );
      for (const a of [...(r.MetricAlarms ?? []), ...(r.CompositeAlarms ?? [])]) {
        out.push({
          name: a.AlarmName ?? '',
          state: a.StateValue ?? 'INSUFFICIENT_DATA',
          reason: a.StateReason ?? '',
          ...(a.StateUpdatedTimestamp ? { since: new Date(a.StateUpdatedTimestamp).toISOString() } : {}),
        });
      }
      NextToken = r.NextToken;
    } while (NextToken);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
