import { EnvError, checkEnv, readEnv, readRehearsalFunctions } from '../../../functions/lib/env';

const FAILOVER_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-failover';

describe('readEnv', () => {
  it('reads every variable', () => {
    // Prepare
    const env = readEnv({
      PGWARDEN_CLUSTER: 'prod',
      PGWARDEN_TOPOLOGY_TABLE: 'acme-topology',
      PGWARDEN_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pg',
      PGWARDEN_NOTIFY_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:pgwarden',
      PGWARDEN_STATE_MACHINE_ARNS: JSON.stringify({ failover: FAILOVER_ARN }),
      PGWARDEN_SSM_DOCUMENT_PREFIX: 'acme',
      PGWARDEN_SSM_OUTPUT_LOG_GROUP: '/acme/node-commands',
      PGWARDEN_DB_CA_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ca',
      AWS_REGION: 'eu-west-1',
    });

    // Act
    const read = { ...env };

    // Assess
    expect(read).toEqual({
      cluster: 'prod',
      topologyTable: 'acme-topology',
      dbSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pg',
      notifyTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pgwarden',
      stateMachineArns: { failover: FAILOVER_ARN },
      ssmDocumentPrefix: 'acme',
      ssmOutputLogGroup: '/acme/node-commands',
      dbCaSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ca',
      region: 'eu-west-1',
    });
  });

  it('applies defaults', () => {
    // Prepare
    const env = readEnv({ PGWARDEN_CLUSTER: 'prod' });

    // Act / Assess: the names infra/aws/naming.js gives the cluster's table and documents
    expect(env.topologyTable).toBe('pgwarden-prod-topology');
    expect(env.ssmDocumentPrefix).toBe('pgwarden-prod');
    expect(env.ssmOutputLogGroup).toBeUndefined();
  });

  it.each([
    ['cluster', 'PGWARDEN_CLUSTER'],
    ['dbSecretArn', 'PGWARDEN_DB_SECRET_ARN'],
    ['notifyTopicArn', 'PGWARDEN_NOTIFY_TOPIC_ARN'],
    ['stateMachineArns', 'PGWARDEN_STATE_MACHINE_ARNS'],
    ['region', 'AWS_REGION'],
  ] as const)('names the missing variable when %s is read', (key, variable) => {
    // Prepare
    const env = readEnv({ PGWARDEN_CLUSTER: ' ', [variable]: '' });

    // Act
    const read = () => env[key];

    // Assess
    expect(read).toThrow(EnvError);
    expect(read).toThrow(`environment variable ${variable} is not set`);
  });

  it.each([
    ['not json', /is not JSON/],
    ['["arn"]', /must be a JSON object/],
    [JSON.stringify({ failovr: FAILOVER_ARN }), /unknown workflow "failovr"/],
    [JSON.stringify({ failover: 'arn:aws:lambda:eu-west-1:1:function:x' }), /not a state machine ARN/],
  ])('rejects PGWARDEN_STATE_MACHINE_ARNS=%s', (raw, problem) => {
    // Prepare
    const env = readEnv({ PGWARDEN_STATE_MACHINE_ARNS: raw });

    // Act / Assess
    expect(() => env.stateMachineArns).toThrow(problem);
  });
});

describe('checkEnv (what a rehearsal proves)', () => {
  const full = {
    PGWARDEN_CLUSTER: 'prod',
    PGWARDEN_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pg',
    PGWARDEN_NOTIFY_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:pgwarden',
    PGWARDEN_STATE_MACHINE_ARNS: JSON.stringify({ failover: FAILOVER_ARN }),
    AWS_REGION: 'eu-west-1',
  };
  it('reads every variable of a complete configuration', () => {
    expect(checkEnv(readEnv(full))).toMatchObject({ cluster: 'prod', stateMachineArns: { failover: FAILOVER_ARN } });
  });
  it.each(Object.keys(full))('throws the EnvError naming %s when it is missing', (variable) => {
    expect(() => checkEnv(readEnv({ ...full, [variable]: '' }))).toThrow(`environment variable ${variable} is not set`);
  });
});

describe('readRehearsalFunctions', () => {
  it('reads the functions under their shared prefix, once each', () => {
    expect(
      readRehearsalFunctions({
        PGWARDEN_REHEARSAL_FUNCTIONS: JSON.stringify({
          prefix: 'pgwarden-main-dev-',
          functions: ['failoverAssess', 'failoverAssess', 'scaleStartClone'],
        }),
      }),
    ).toEqual(['pgwarden-main-dev-failoverAssess', 'pgwarden-main-dev-scaleStartClone']);
  });
  it.each([
    [undefined, /is not set/],
    ['nope', /is not JSON/],
    ['["pgwarden-main-dev-failoverAssess"]', /must be \{"prefix"/],
    ['{"prefix":"p-","functions":[]}', /at least one function/],
    ['{"prefix":"arn:aws:lambda:eu-west-1:1:function:","functions":["x"]}', /does not make a Lambda function name/],
    [JSON.stringify({ prefix: 'p-', functions: ['x'.repeat(63)] }), /does not make a Lambda function name/],
    ['{"prefix":"p-","functions":[7]}', /lists 7/],
  ])('rejects PGWARDEN_REHEARSAL_FUNCTIONS=%s', (raw, problem) => {
    expect(() => readRehearsalFunctions({ PGWARDEN_REHEARSAL_FUNCTIONS: raw })).toThrow(problem);
  });
});
