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
    expect(log).toHaveBeenCalledWith('dropped non-finite metric values', {
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
