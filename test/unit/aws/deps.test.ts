import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchMetrics } from '../../../functions/lib/aws/cloudwatch-metrics';
import { DynamoDbTopologyStore } from '../../../functions/lib/aws/dynamodb-topology-store';
import { awsDeps, jsonLog } from '../../../functions/lib/aws/deps';
import { Ec2InstanceControl } from '../../../functions/lib/aws/ec2-instance-control';
import { SecretsManagerSecrets } from '../../../functions/lib/aws/secrets';
import { SfnWorkflowStarter } from '../../../functions/lib/aws/sfn-workflow-starter';
import { SnsNotifier } from '../../../functions/lib/aws/sns-notifier';
import { SsmNodeCommands } from '../../../functions/lib/aws/ssm-node-commands';

import { readEnv } from '../../../functions/lib/env';

const dbMock = mockClient(DynamoDBClient);

const FULL = {
  PGWARDEN_CLUSTER: 'prod',
  PGWARDEN_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pg',
  PGWARDEN_NOTIFY_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:pgwarden',
  PGWARDEN_STATE_MACHINE_ARNS: JSON.stringify({
    failover: 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-failover',
  }),
  AWS_REGION: 'eu-west-1',
};

beforeEach(() => {
  dbMock.reset();
});

describe('awsDeps', () => {
  it('wires every port to its AWS adapter, once', () => {
    // Prepare
    const deps = awsDeps(readEnv(FULL));

    // Act
    const ports = [
      deps.topology,
      deps.nodes,
      deps.instances,
      deps.workflows,
      deps.metrics,
      deps.notifier,
      deps.secrets,
    ];

    // Assess
    expect(deps.cluster).toBe('prod');
    expect(ports.map((p) => p.constructor)).toEqual([
      DynamoDbTopologyStore,
      SsmNodeCommands,
      Ec2InstanceControl,
      SfnWorkflowStarter,
      CloudWatchMetrics,
      SnsNotifier,
      SecretsManagerSecrets,
    ]);
    expect(deps.secrets).toBe(ports[6]);
    expect(deps.now()).toBeInstanceOf(Date);
  });

  it('only needs the configuration of the ports a handler uses', () => {
    // Prepare
    const deps = awsDeps(readEnv({ PGWARDEN_CLUSTER: 'prod', AWS_REGION: 'eu-west-1' }));

    // Act
    const metrics = () => deps.metrics;
    const notifier = () => deps.notifier;

    // Assess
    expect(metrics).not.toThrow();
    expect(notifier).toThrow('environment variable PGWARDEN_NOTIFY_TOPIC_ARN is not set');
  });

  it('uses the configured topology table', async () => {
    // Prepare
    dbMock.on(GetItemCommand).resolves({
      Item: {
        cluster: { S: 'prod' },
        version: { N: '1' },
        document: { S: JSON.stringify({ cluster: 'prod', version: 1 }) },
      },
    });
    const deps = awsDeps(readEnv({ ...FULL, PGWARDEN_TOPOLOGY_TABLE: 'acme-topo' }));

    // Act
    await deps.topology.get('prod');

    // Assess
    expect(dbMock).toHaveReceivedCommandWith(GetItemCommand, {
      TableName: 'acme-topo',
      Key: { cluster: { S: 'prod' } },
    });
  });
});

describe('jsonLog', () => {
  it('writes one JSON object per line with the cluster, the message, the fields and readable errors', () => {
    // Prepare
    const lines: string[] = [];
    const log = jsonLog({ cluster: 'prod' }, (line) => lines.push(line));

    // Act
    log('fence failed', { node: 'pg1', error: new Error('ssm timeout') });

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'info',
      cluster: 'prod',
      msg: 'fence failed',
      node: 'pg1',
      error: { name: 'Error', message: 'ssm timeout' },
    });
  });

  it('never throws, even without a configured cluster', () => {
    // Prepare
    const lines: string[] = [];
    const log = jsonLog(readEnv({}), (line) => lines.push(line));

    // Act
    log('starting');

    // Assess
    expect(JSON.parse(lines[0])).not.toHaveProperty('cluster');
  });
});
