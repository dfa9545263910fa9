'use strict';
/**
 * The Lambdas' role (provider.iam.role.statements): least privilege, every resource named. ARNs of the
 * cluster's own resources are built from their fixed names, not Ref'd, so that no Lambda depends on
 * the instances or state machines that depend on it.
 * Used as `${file(./infra/aws/iam.js):lambdaStatements}`.
 */
const { workflows } = require('./naming');
const { documentArns } = require('./actions');
const { CLUSTER_TAG } = require('./nodes');

const arn = (service, resource) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`,
});

async function lambdaStatements({ resolveVariable }) {
  const cluster = await resolveVariable('self:custom.cluster');
  const wfs = workflows();
  const tagged = { StringEquals: { [`aws:ResourceTag/${CLUSTER_TAG}`]: cluster } };
  const statements = [
    { Sid: 'RunNodeActionDocuments', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: await documentArns() },
    // SendCommand authorizes the document and each target instance: only the cluster's members.
    {
      Sid: 'RunNodeActionsOnClusterMembers',
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: [arn('ec2', 'instance/*')],
      Condition: { StringEquals: { [`ssm:resourceTag/${CLUSTER_TAG}`]: cluster } },
    },
    // No resource-level permissions exist for these (IAM service authorization reference).
    {
      Sid: 'FollowNodeActions',
      Effect: 'Allow',
      Action: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations', 'ssm:CancelCommand'],
      Resource: '*',
    },
    {
      Sid: 'Topology',
      Effect: 'Allow',
      Action: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:GetParameterHistory'],
      Resource: [arn('ssm', `parameter/pgwarden/${cluster}/topology`)],
    },
    {
      Sid: 'DatabaseCredentials',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: [{ Ref: 'DbSecret' }],
    },
    {
      Sid: 'DecryptSecrets',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [{ 'Fn::GetAtt': ['SecretsKey', 'Arn'] }],
    },
    {
      Sid: 'EncryptWithDataKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: [{ 'Fn::GetAtt': ['DataKey', 'Arn'] }],
    },
    { Sid: 'Notify', Effect: 'Allow', Action: ['sns:Publish'], Resource: [{ Ref: 'NotifyTopic' }] },
    {
      Sid: 'PublishMetrics',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricData'],
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': 'pgwarden' } },
    },
    { Sid: 'DescribeInstances', Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeTags'], Resource: '*' },
    // Fencing by instance stop: only the cluster's members.
    {
      Sid: 'FenceClusterInstances',
      Effect: 'Allow',
      Action: ['ec2:StopInstances', 'ec2:StartInstances'],
      Resource: [arn('ec2', 'instance/*')],
      Condition: tagged,
    },
    {
      Sid: 'ReadPostgresLogs',
      Effect: 'Allow',
      Action: ['logs:FilterLogEvents', 'logs:StartQuery', 'logs:GetLogEvents', 'logs:DescribeLogStreams'],
      Resource: [
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql`),
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql:*`),
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql-json`),
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql-json:*`),
        arn('logs', `log-group:/pgwarden/${cluster}/node-commands:*`),
      ],
    },
    { Sid: 'LogsInsightsResults', Effect: 'Allow', Action: ['logs:GetQueryResults', 'logs:StopQuery'], Resource: '*' },
    {
      Sid: 'WriteDigests',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:GetObject'],
      Resource: [{ 'Fn::Sub': '${DigestBucket.Arn}/*' }],
    },
  ];
  if (wfs.length) {
    statements.push({
      Sid: 'StartWorkflows',
      Effect: 'Allow',
      Action: ['states:StartExecution'],
      Resource: wfs.map((w) => arn('states', `stateMachine:pgwarden-${cluster}-${w.name}`)),
    });
    statements.push({
      Sid: 'WatchWorkflows',
      Effect: 'Allow',
      Action: ['states:DescribeExecution'],
      Resource: wfs.map((w) => arn('states', `execution:pgwarden-${cluster}-${w.name}:*`)),
    });
  }
  return statements;
}

module.exports = { lambdaStatements };
