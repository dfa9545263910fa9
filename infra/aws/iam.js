'use strict';
/**
 * One IAM role per Lambda, each granting only what its handler's code can call: the adapters its
 * import graph reaches (handler-ports.js) decide which of the statements below it gets. A handler that
 * never touches `deps.nodes` cannot send a node action, a digest cannot stop an instance.
 *
 * ARNs of the cluster's own resources are built from their fixed names, not Ref'd, so that no role
 * depends on the instances or state machines that depend on the Lambdas.
 * Used as `${file(./infra/aws/iam.js):roles}` (resources) and by functions.js (`role:` of each step).
 */
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');
const { ROOT, workflows, functionLogicalId, functionName, topologyTableName, namePrefix } = require('./naming');
const { documentArns } = require('./actions');
const { handlerReach } = require('./handler-ports');

const CLUSTER_TAG = 'pgwarden:cluster';
const arn = (service, resource) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`,
});
const getAtt = (id, attr) => ({ 'Fn::GetAtt': [id, attr] });

/** The role of a function key: failoverAssess -> FailoverAssessLambdaRole. */
const roleLogicalId = (key) => functionLogicalId(key).replace(/LambdaFunction$/, 'LambdaRole');

/** Per adapter file: the statements its SDK commands need (test/aws derives the commands independently). */
const ADAPTER_STATEMENTS = {
  'functions/lib/aws/dynamodb-topology-store.ts': ({ cluster }) => [
    {
      Sid: 'Topology',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      Resource: [arn('dynamodb', `table/${topologyTableName(cluster)}`)],
    },
    {
      Sid: 'TopologyEncryption',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      Resource: [getAtt('DataKey', 'Arn')],
      Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'dynamodb.${AWS::Region}.amazonaws.com' } } },
    },
  ],
  'functions/lib/aws/ssm-node-commands.ts': ({ cluster }) => [
    { Sid: 'RunNodeActionDocuments', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: documentArns(cluster) },
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
  ],
  'functions/lib/aws/ec2-instance-control.ts': ({ cluster }) => [
    { Sid: 'DescribeInstances', Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
    // Fencing by instance stop: only the cluster's members.
    {
      Sid: 'FenceClusterInstances',
      Effect: 'Allow',
      Action: ['ec2:StopInstances'],
      Resource: [arn('ec2', 'instance/*')],
      Condition: { StringEquals: { [`aws:ResourceTag/${CLUSTER_TAG}`]: cluster } },
    },
  ],
  'functions/lib/aws/sfn-workflow-starter.ts': ({ cluster }) => [
    {
      Sid: 'StartWorkflows',
      Effect: 'Allow',
      Action: ['states:StartExecution'],
      Resource: workflows().map((w) => arn('states', `stateMachine:${namePrefix(cluster)}-${w.name}`)),
    },
  ],
  'functions/lib/aws/cloudwatch-metrics.ts': () => [
    {
      Sid: 'PublishMetrics',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricData'],
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': require('../../functions/metrics/alarms.json').namespace } },
    },
  ],
  'functions/lib/aws/sns-notifier.ts': () => [
    { Sid: 'Notify', Effect: 'Allow', Action: ['sns:Publish'], Resource: [{ Ref: 'NotifyTopic' }] },
    {
      Sid: 'NotifyEncrypted',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: [getAtt('DataKey', 'Arn')],
    },
  ],
  'functions/lib/aws/secrets.ts': () => [
    {
      Sid: 'DatabaseCredentials',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      // The automation role's password, the pgpool role's (sessions through a pgpool) and the cluster
      // CA's certificate (never its key).
      Resource: [{ Ref: 'DbSecret' }, { Ref: 'PgpoolSecret' }, { Ref: 'TlsCaCertSecret' }],
    },
    { Sid: 'DecryptSecrets', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [getAtt('SecretsKey', 'Arn')] },
  ],
  // The rehearsal invokes exactly the workflow step Lambdas (functions.js: the same list it rehearses).
  'functions/rehearsal/aws.ts': ({ cluster, stage }) => [
    {
      Sid: 'RehearseWorkflowSteps',
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: require('./functions')
        .stepFunctions()
        .map((fn) => arn('lambda', `function:${functionName(cluster, stage, fn.key)}`)),
    },
  ],
  'functions/logdigest/aws.ts': ({ cluster }) => [
    {
      Sid: 'ReadPostgresLogs',
      Effect: 'Allow',
      Action: ['logs:DescribeLogStreams', 'logs:FilterLogEvents'],
      Resource: [
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql`),
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql:*`),
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql-json`),
        arn('logs', `log-group:/pgwarden/${cluster}/postgresql-json:*`),
      ],
    },
    {
      Sid: 'WriteDigests',
      Effect: 'Allow',
      Action: ['s3:PutObject'],
      Resource: [{ 'Fn::Sub': '${DigestBucket.Arn}/*' }],
    },
    {
      Sid: 'WriteDigestsEncrypted',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey'],
      Resource: [getAtt('DataKey', 'Arn')],
    },
  ],
};

/** What every Lambda needs: its own log group, its network interfaces in the VPC, X-Ray. */
function baseline(logGroupName) {
  return [
    {
      Sid: 'OwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [arn('logs', `log-group:${logGroupName}:*`)],
    },
    // No resource-level permissions exist for these (IAM service authorization reference).
    {
      Sid: 'VpcNetworkInterfaces',
      Effect: 'Allow',
      Action: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      Resource: '*',
    },
    { Sid: 'Tracing', Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
  ];
}

/** Every function of serverless.yml: the generated workflow steps and the ones written there. */
function allFunctions() {
  const { stepFunctions } = require('./functions');
  const doc = yaml.load(fs.readFileSync(path.join(ROOT, 'serverless.yml'), 'utf8'));
  const fixed = [];
  for (const entry of [doc.functions].flat()) {
    if (entry && typeof entry === 'object')
      for (const [key, f] of Object.entries(entry))
        // A function with a role written by hand beside its own resources (the app: infra/aws/app.yml,
        // its own least-privilege role, checked by the template test) is not derived here.
        if (!f.role || f.role === roleLogicalId(key)) fixed.push({ key, handler: f.handler });
  }
  return [...stepFunctions().map((f) => ({ key: f.key, handler: f.handler })), ...fixed];
}

/** The statements of one function's role, and what its code reaches (for the role's description). */
function functionStatements(cluster, stage, fn) {
  const reach = handlerReach(fn.handler);
  const statements = baseline(`/aws/lambda/${functionName(cluster, stage, fn.key)}`);
  for (const adapter of reach.adapters) {
    const make = ADAPTER_STATEMENTS[adapter];
    if (!make) throw new Error(`${adapter} sends AWS SDK commands but infra/aws/iam.js grants nothing for it`);
    statements.push(...make({ cluster, stage }));
  }
  return { statements, reach };
}

function buildRoles(cluster, stage, fns = allFunctions()) {
  const Resources = {};
  for (const fn of fns) {
    const { statements, reach } = functionStatements(cluster, stage, fn);
    Resources[roleLogicalId(fn.key)] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        Description:
          `pgwarden ${cluster}: Lambda ${fn.key} (${reach.adapters.map((a) => path.basename(a, '.ts')).join(', ') || 'no AWS calls'})`.slice(
            0,
            1000,
          ),
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [{ PolicyName: 'pgwarden', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
      },
    };
  }
  return { Resources };
}

async function roles({ resolveVariable }) {
  const [cluster, stage] = await Promise.all([resolveVariable('self:custom.cluster'), resolveVariable('sls:stage')]);
  return buildRoles(cluster, stage);
}

module.exports = { roles, buildRoles, roleLogicalId, allFunctions, ADAPTER_STATEMENTS, baseline };
