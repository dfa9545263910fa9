/** MetricsSink over CloudWatch PutMetricData. */
import { type CloudWatchClient, type MetricDatum as CwDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { MetricDatum, MetricsSink } from '../ports';

/** PutMetricData accepts at most 1000 datums per call. */
export const MAX_DATUMS_PER_CALL = 1000;

export class CloudWatchMetrics implements MetricsSink {
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly opts: { log?: (msg: string, fields?: Record<string, unknown>) => void } = {},
  ) {}

  async put(namespace: string, data: MetricDatum[]): Promise<void> {
    // CloudWatch rejects the whole call for one NaN or Infinity: drop those and say so.
    const finite = data.filter((d) => Number.isFinite(d.value));
    if (finite.length < data.length) {
      const dropped = data.filter((d) => !Number.isFinite(d.value)).map((d) => d.name);
      this.opts.log?.('dropped non-finite metric values', { namespace, dropped });
    }
    for (let i = 0; i < finite.length; i += MAX_DATUMS_PER_CALL) {
      await this.cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: finite.slice(i, i + MAX_DATUMS_PER_CALL).map(toCloudWatch),
        }),
      );
    }
  }
}

function toCloudWatch(d: MetricDatum): CwDatum {
  return {
    MetricName: d.name,
    Value: d.value,
    Unit: d.unit,
    ...(d.dimensions && Object.keys(d.dimensions).length > 0
      ? { Dimensions: Object.entries(d.dimensions).map(([Name, Value]) => ({ Name, Value })) }
      : {}),
    ...(d.timestamp ? { Timestamp: d.timestamp } : {}),
  };
}
