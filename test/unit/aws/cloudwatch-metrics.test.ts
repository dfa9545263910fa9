import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchMetrics } from '../../../functions/lib/aws/cloudwatch-metrics';
import type { MetricDatum } from '../../../functions/lib/ports';

const cwMock = mockClient(CloudWatchClient);

function sink(log?: (msg: string, fields?: Record<string, unknown>) => void) {
  return new CloudWatchMetrics(new CloudWatchClient({ region: 'eu-west-1' }), { log });
}

beforeEach(() => {
  cwMock.reset();
  cwMock.on(PutMetricDataCommand).resolves({});
});

describe('CloudWatchMetrics', () => {
  it('maps datums, dimensions and timestamps to PutMetricData', async () => {
    // Prepare
    const at = new Date('2024-05-01T12:00:00Z');
    const data: MetricDatum[] = [
      {
        name: 'ReplicationLagBytes',
        value: 1024,
        unit: 'Bytes',
        dimensions: { Cluster: 'prod', Standby: 'pg2' },
        timestamp: at,
      },
      { name: 'PrimaryWritable', value: 1, unit: 'Count' },
    ];

    // Act
    await sink().put('pgwarden', data);

    // Assess
    expect(cwMock).toHaveReceivedCommandWith(PutMetricDataCommand, {
      Namespace: 'pgwarden',
      MetricData: [
        {
          MetricName: 'ReplicationLagBytes',
          Value: 1024,
          Unit: 'Bytes',
          Dimensions: [
            { Name: 'Cluster', Value: 'prod' },
            { Name: 'Standby', Value: 'pg2' },
          ],
          Timestamp: at,
        },
        { MetricName: 'PrimaryWritable', Value: 1, Unit: 'Count' },
      ],
    });
  });

  it('chunks into calls of at most 1000 datums, in order', async () => {
    // Prepare
    const data: MetricDatum[] = Array.from({ length: 2501 }, (_, i) => ({ name: `m${i}`, value: i, unit: 'None' }));

    // Act
    await sink().put('pgwarden', data);

    // Assess
    const calls = cwMock.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData ?? []);
    expect(calls.map((c) => c.length)).toEqual([1000, 1000, 501]);
    expect(calls.flat().map((d) => d.MetricName)).toEqual(data.map((d) => d.name));
  });

  it('sends StorageResolution 1 for high-resolution metrics and nothing for standard ones', async () => {
    // Prepare
    const data: MetricDatum[] = [
      { name: 'PrimaryWritable', value: 1, unit: 'Count', dimensions: { Cluster: 'prod' }, storageResolution: 1 },
      { name: 'CommitsPerSecond', value: 5, unit: 'Count/Second', dimensions: { Cluster: 'prod' } },
    ];

    // Act
    await sink().put('pgwarden', data);

    // Assess
    const [sent] = cwMock.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData ?? []);
    expect(sent[0]).toEqual({
      MetricName: 'PrimaryWritable',
      Value: 1,
      Unit: 'Count',
      Dimensions: [{ Name: 'Cluster', Value: 'prod' }],
      StorageResolution: 1,
    });
    expect(sent[1]).not.toHaveProperty('StorageResolution');
  });

  it('splits large datums into calls under the 1 MB request limit, in order', async () => {
    // Prepare: 1000 datums of 30 long dimensions each, about 8 MB in all.
    const dims = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`D${i}`, 'x'.repeat(250)]));
    const data: MetricDatum[] = Array.from({ length: 1000 }, (_, i) => ({
      name: `m${i}`,
      value: i,
      unit: 'Count',
      dimensions: dims,
    }));

    // Act
    await sink().put('pgwarden', data);

    // Assess
    const calls = cwMock.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
    expect(calls.length).toBeGreaterThan(8);
    for (const input of calls) {
      expect(input.Namespace).toBe('pgwarden');
      expect(input.MetricData!.length).toBeLessThanOrEqual(1000);
      expect(JSON.stringify(input).length).toBeLessThan(1_000_000);
    }
    expect(calls.flatMap((c) => c.MetricData!.map((d) => d.MetricName))).toEqual(data.map((d) => d.name));
  });

  it('drops a datum with more than 30 dimensions, which CloudWatch would reject with the whole batch', async () => {
    // Prepare
    const log = jest.fn();
    const dims = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`D${i}`, 'v']));

    // Act
    await sink(log).put('pgwarden', [
      { name: 'TooWide', value: 1, unit: 'Count', dimensions: dims },
      { name: 'Fine', value: 1, unit: 'Count' },
    ]);

    // Assess
    expect(cwMock).toHaveReceivedCommandWith(PutMetricDataCommand, {
      MetricData: [{ MetricName: 'Fine', Value: 1, Unit: 'Count' }],
    });
    expect(log).toHaveBeenCalledWith(expect.any(String), { namespace: 'pgwarden', dropped: ['TooWide'] });
  });

  it('makes no call for an empty batch', async () => {
    // Prepare / Act
    await sink().put('pgwarden', []);

    // Assess
    expect(cwMock).not.toHaveReceivedCommand(PutMetricDataCommand);
  });

  it('drops non-finite values, which CloudWatch would reject with the whole batch, and logs them', async () => {
    // Prepare
    const log = jest.fn();
    const data: MetricDatum[] = [
      { name: 'BufferHitRatio', value: NaN, unit: 'Percent' },
      { name: 'Timeline', value: 3, unit: 'None' },
    ];

    // Act
    await sink(log).put('pgwarden', data);

    // Assess
    expect(cwMock).toHaveReceivedCommandWith(PutMetricDataCommand, {
      MetricData: [{ MetricName: 'Timeline', Value: 3, Unit: 'None' }],
    });
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^dropped metric values CloudWatch would reject/), {
      namespace: 'pgwarden',
      dropped: ['BufferHitRatio'],
    });
  });

  it('propagates a CloudWatch error', async () => {
    // Prepare
    cwMock.on(PutMetricDataCommand).rejects(new Error('InvalidParameterValue'));

    // Act
    const put = sink().put('pgwarden', [{ name: 'x', value: 1, unit: 'Count' }]);

    // Assess
    await expect(put).rejects.toThrow('InvalidParameterValue');
  });
});
