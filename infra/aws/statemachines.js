'use strict';
/**
 * Every statemachines/*.asl.json as a plain AWS::StepFunctions::StateMachine (Standard, logging and
 * X-Ray tracing on) whose DefinitionSubstitutions are generated from the `${...}` names the file uses,
 * plus the one role the state machines share, scoped to what the definitions call.
 * Used as a `resources` fragment: `${file(./infra/aws/statemachines.js):resources}`.
 */
const { workflows, stepFunction, pascal, topologyTableName } = require('./naming');

const arn = (service, resource) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`,
});

/** The ARN of a workflow's state machine, built from its name (no Ref: Lambdas and roles use it without a cycle). */
const stateMachineArn = (cluster, workflow) => arn('states', `stateMachine:pgwarden-${cluster}-${workflow}`);

/** What a `${Name}` in an ASL file stands for. Unknown names fail the package, naming the file. */
function substitution(name, { cluster, workflowNames, file }) {
  const fn = stepFunction(name);
  if (fn) return { 'Fn::GetAtt': [fn.logicalId, 'Arn'] };
  const sm = /^([A-Z][A-Za-z0-9]*)StateMachineArn$/.exec(name);
  if (sm) {
    const wf = workflowNames.find((w) => pascal(w) === sm[1]);
    if (!wf)
      throw new Error(`${file}: \${${name}} names no workflow in statemachines/ (have ${workflowNames.join(', ')})`);
    return stateMachineArn(cluster, wf);
  }
  const fixed = {
    NotifyTopicArn: { Ref: 'NotifyTopic' },
    ClusterName: cluster,
    MetricNamespace: require('../../functions/metrics/alarms.json').namespace,
    TopologyTableName: topologyTableName(cluster),
  };
  if (name in fixed) return fixed[name];
  throw new Error(
    `${file}: unknown substitution \${${name}}; use \${<Area><Step>FunctionArn}, \${<Workflow>StateMachineArn} or one of ${Object.keys(fixed).join(', ')}`,
  );
}

function build(cluster, wfs = workflows()) {
  const workflowNames = wfs.map((w) => w.name);
  const Resources = {};
  const Outputs = {};
  const lambdaArns = new Map();
  let usesSns = false;
  let startsWorkflows = false;

  for (const wf of wfs) {
    const subs = {};
    for (const p of wf.placeholders) {
      subs[p] = substitution(p, { cluster, workflowNames, file: `statemachines/${wf.name}.asl.json` });
      const fn = stepFunction(p);
      if (fn) lambdaArns.set(fn.logicalId, subs[p]);
    }
    const text = JSON.stringify(wf.definition);
    if (wf.placeholders.includes('NotifyTopicArn') || text.includes('arn:aws:states:::sns:')) usesSns = true;
    if (text.includes('arn:aws:states:::states:startExecution')) startsWorkflows = true;

    const logGroup = `${wf.logicalId}LogGroup`;
    Resources[logGroup] = {
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        LogGroupName: `/aws/vendedlogs/states/pgwarden-${cluster}-${wf.name}`,
        RetentionInDays: 30,
        KmsKeyId: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
      },
    };
    Resources[wf.logicalId] = {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: wf.stateMachineName(cluster),
        StateMachineType: 'STANDARD',
        RoleArn: { 'Fn::GetAtt': ['StateMachineRole', 'Arn'] },
        Definition: wf.definition,
        ...(Object.keys(subs).length ? { DefinitionSubstitutions: subs } : {}),
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: true,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroup, 'Arn'] } } }],
        },
        TracingConfiguration: { Enabled: true },
        Tags: [{ Key: 'pgwarden:cluster', Value: cluster }],
      },
    };
    Outputs[`${wf.logicalId}Arn`] = { Value: { Ref: wf.logicalId } };
  }

  const statements = [];
  if (lambdaArns.size) {
    const arns = [...lambdaArns.values()];
    statements.push({
      Sid: 'InvokeWorkflowSteps',
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: [...arns, ...arns.map((a) => ({ 'Fn::Join': ['', [a, ':*']] }))],
    });
  }
  if (usesSns) {
    statements.push({ Sid: 'Notify', Effect: 'Allow', Action: ['sns:Publish'], Resource: [{ Ref: 'NotifyTopic' }] });
    statements.push({
      Sid: 'NotifyEncrypted',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: [{ 'Fn::GetAtt': ['DataKey', 'Arn'] }],
    });
  }
  if (startsWorkflows) {
    statements.push({
      Sid: 'StartChildWorkflows',
      Effect: 'Allow',
      Action: ['states:StartExecution'],
      Resource: workflowNames.map((w) => stateMachineArn(cluster, w)),
    });
    statements.push({
      Sid: 'WatchChildWorkflows',
      Effect: 'Allow',
      Action: ['states:DescribeExecution', 'states:StopExecution'],
      Resource: workflowNames.map((w) => arn('states', `execution:pgwarden-${cluster}-${w}:*`)),
    });
    statements.push({
      Sid: 'SyncChildWorkflows',
      Effect: 'Allow',
      Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      Resource: [arn('events', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule')],
    });
  }
  // These APIs have no resource-level permissions (IAM service authorization reference): "*" is the narrowest.
  statements.push({
    Sid: 'DeliverExecutionLogs',
    Effect: 'Allow',
    Action: [
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
    ],
    Resource: '*',
  });
  statements.push({
    Sid: 'Tracing',
    Effect: 'Allow',
    Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
    Resource: '*',
  });

  Resources.StateMachineRole = {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: `pgwarden ${cluster}: the workflows (Step Functions) run their steps`,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'states.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
      Policies: [{ PolicyName: 'workflows', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
  return { Resources, Outputs };
}

/** serverless.yml: `resources: - ${file(./infra/aws/statemachines.js):resources}` */
async function resources({ resolveVariable }) {
  return build(await resolveVariable('self:custom.cluster'));
}

/** provider.environment PGWARDEN_STATE_MACHINE_ARNS: {"failover":"arn:...", ...} as one JSON string. */
async function stateMachineArnsJson({ resolveVariable }) {
  const cluster = await resolveVariable('self:custom.cluster');
  const wfs = workflows();
  if (!wfs.length) return '{}';
  const parts = [];
  wfs.forEach((w, i) => {
    parts.push(`${i ? ',' : '{'}"${w.name}":"`, stateMachineArn(cluster, w.name), '"');
  });
  parts.push('}');
  return { 'Fn::Join': ['', parts] };
}

/** IAM: the Lambdas may start and watch every workflow of the cluster. */
async function stateMachineArns({ resolveVariable }) {
  const cluster = await resolveVariable('self:custom.cluster');
  return workflows().map((w) => stateMachineArn(cluster, w.name));
}
async function executionArns({ resolveVariable }) {
  const cluster = await resolveVariable('self:custom.cluster');
  return workflows().map((w) => arn('states', `execution:pgwarden-${cluster}-${w.name}:*`));
}

module.exports = {
  build,
  substitution,
  stateMachineArn,
  resources,
  stateMachineArnsJson,
  stateMachineArns,
  executionArns,
};
