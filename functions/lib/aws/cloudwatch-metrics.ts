/** MetricsSink over CloudWatch PutMetricData. */
import { type CloudWatchClient, type MetricDatum as CwDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { MetricDatum, MetricsSink } from '../ports';

/** PutMetricData accepts at most 1000 datums per call. */
export const MAX_DATUMS_PER_CALL = 1000;
/** ...and a request of at most 1 MB; stay well below it, counting each datum's JSON size. */
export const MAX_BYTES_PER_CALL = 800_000;
/** ...and at most 30 dimensions per datum. */
export const MAX_DIMENSIONS = 30;

export class CloudWatchMetrics implements MetricsSink {
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly opts: { log?: (msg: string, fields?: Record<string, unknown>) => void } = {},
  ) {}

  async put(namespace: string, data: MetricDatum[]): Promise<void> {
    // CloudWatch rejects the whole call for one NaN or Infinity, or one datum with too many
    // dimensions: drop those and say so.
    const ok = (d: MetricDatum) => Number.isFinite(d.value) && Object.keys(d.dimensions ?? {}).length <= MAX_DIMENSIONS;
    const good = data.filter(ok);
    if (good.length < data.length) {
      const dropped = data.filter((d) => !ok(d)).map((d) => d.name);
      this.opts.log?.('dropped metric values CloudWatch would reject (not finite, or over 30 dimensions)', {
        namespace,
        dropped,
      });
    }
    for (const batch of batches(good.map(toCloudWatch)))
      await this.cloudwatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch }));
  }
}

/** Consecutive batches within both limits of one call, in order. */
function batches(data: CwDatum[]): CwDatum[][] {
  const out: CwDatum[][] = [];
  let cur: CwDatum[] = [];
  let bytes = 0;
  for (const d of data) {
    const size = JSON.stringify(d).length;
    if (cur.length && (cur.length >= MAX_DATUMS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(d);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
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
    ...(d.storageResolution ? { StorageResolution: d.storageResolution } : {}),
  };
}
