'use strict';
/**
 * CloudWatch alarms and the dashboard, generated from functions/metrics/alarms.json (the lab's alarm evaluator
 * reads the same file), and an alarm on the rehearsal Lambda's own Errors. Used as
 * `${file(./infra/aws/alarms.js):resources}`; `alarmArns` is `{alarmArns}` in the alarm trigger's EventBridge
 * pattern (functions/triggers/event-rules.json, filled in by event-rules.js).
 */
const { pascal, functionName } = require('./naming');
const definitions = () => require('../../functions/metrics/alarms.json');

const alarmLogicalId = (name) => `${pascal(name)}Alarm`;
const alarmName = (cluster, name) => `pgwarden-${cluster}-${name}`;

function build(cluster, defs = definitions()) {
  const Resources = {};
  for (const a of defs.alarms) {
    Resources[alarmLogicalId(a.name)] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(cluster, a.name),
        AlarmDescription: a.starts ? `${a.description} (starts: ${a.starts})` : a.description,
        Namespace: defs.namespace,
        MetricName: a.metric,
        Unit: a.unit,
        Dimensions: Object.entries(a.dimensions || {}).map(([Name, v]) => ({
          Name,
          Value: v.replace('{cluster}', cluster),
        })),
        Statistic: a.statistic,
        Period: a.periodSeconds,
        EvaluationPeriods: a.evaluationPeriods,
        DatapointsToAlarm: a.datapointsToAlarm,
        ComparisonOperator: a.comparison,
        Threshold: a.threshold,
        TreatMissingData: a.treatMissingData,
        AlarmActions: [{ Ref: 'NotifyTopic' }],
        OKActions: [{ Ref: 'NotifyTopic' }],
      },
    };
  }
  Resources.Dashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: { DashboardName: `pgwarden-${cluster}`, DashboardBody: dashboardBody(cluster, defs) },
  };
  return { Resources };
}

function dashboardBody(cluster, defs) {
  const widgets = [];
  widgets.push({
    type: 'alarm',
    x: 0,
    y: 0,
    width: 24,
    height: 3,
    properties: { title: 'Alarms', alarms: defs.alarms.map((a) => `ALARM_ARN_${alarmLogicalId(a.name)}`) },
  });
  // Cluster-wide series (what the alarms read) by name; per-node series through SEARCH, so a standby
  // added by scale out appears without a redeploy. Every name here is checked against what the code
  // publishes (test/unit/metric-rule.test.ts).
  const metric = (name, stat) => [defs.namespace, name, 'Cluster', cluster, { stat }];
  let ids = 0;
  const search = (name, dims, stat) => [
    {
      expression: `SEARCH('{${[defs.namespace, 'Cluster', ...dims].join(',')}} MetricName="${name}" Cluster="${cluster}"', '${stat}', 60)`,
      id: `e${++ids}`,
    },
  ];
  const panels = [
    ['Primary writable, nodes up', [metric('PrimaryWritable', 'Minimum'), search('NodeUp', ['Node'], 'Minimum')]],
    ['Write probe latency (ms)', [metric('WriteProbeLatency', 'p99'), metric('WriteProbeLatency', 'Average')]],
    [
      'Replication lag per standby (bytes)',
      [search('ReplicationLagBytes', ['Node'], 'Maximum'), metric('ReplicationLagBytesMax', 'Maximum')],
    ],
    [
      'Replication lag per standby (s)',
      [search('ReplicationLagSeconds', ['Node'], 'Maximum'), metric('ReplicationLagSeconds', 'Maximum')],
    ],
    ['Standbys streaming / synchronous', [metric('StreamingStandbys', 'Minimum'), metric('SyncStandbys', 'Minimum')]],
    [
      'Transactions (commits, rollbacks /s)',
      [metric('CommitsPerSecond', 'Average'), metric('RollbacksPerSecond', 'Average')],
    ],
    ['Connections used per node (% of max_connections)', [search('ConnectionsUsedPercent', ['Node'], 'Maximum')]],
    ['Replication slots: retained WAL (bytes)', [search('ReplicationSlotRetainedBytes', ['Node', 'Slot'], 'Maximum')]],
    ['Oldest transaction ID age per database', [search('OldestXidAge', ['Database'], 'Maximum')]],
    ['WAL written (bytes/s)', [metric('WalBytesPerSecond', 'Average')]],
    [
      'Checkpoints per node (timed, requested)',
      [search('CheckpointsTimed', ['Node'], 'Sum'), search('CheckpointsRequested', ['Node'], 'Sum')],
    ],
    ['Failovers and duration (ms)', [metric('FailoverCount', 'Sum'), metric('FailoverDuration', 'Maximum')]],
  ];
  panels.forEach(([title, metrics], i) =>
    widgets.push({
      type: 'metric',
      x: (i % 3) * 8,
      y: 3 + Math.floor(i / 3) * 6,
      width: 8,
      height: 6,
      properties: { title, metrics, region: 'AWS_REGION', period: 60, view: 'timeSeries', stacked: false },
    }),
  );
  // One graph per alarm: CloudWatch draws the alarm's own metric and threshold.
  const top = 3 + Math.ceil(panels.length / 3) * 6;
  defs.alarms.forEach((a, i) =>
    widgets.push({
      type: 'metric',
      x: (i % 4) * 6,
      y: top + Math.floor(i / 4) * 5,
      width: 6,
      height: 5,
      properties: {
        title: `Alarm: ${a.name}`,
        annotations: { alarms: [`ALARM_ARN_${alarmLogicalId(a.name)}`] },
        region: 'AWS_REGION',
        view: 'timeSeries',
        stacked: false,
      },
    }),
  );
  // Alarm ARNs and the region are spliced in with Fn::Sub (the body is one JSON string).
  let body = JSON.stringify({ widgets }).replaceAll('"AWS_REGION"', '"${AWS::Region}"');
  for (const a of defs.alarms)
    body = body.replaceAll(`ALARM_ARN_${alarmLogicalId(a.name)}`, `\${${alarmLogicalId(a.name)}.Arn}`);
  return { 'Fn::Sub': body };
}

/**
 * Alarms on a pgwarden Lambda's own Errors (namespace AWS/Lambda, so not in alarms.json, which holds
 * the metrics pgwarden publishes): the rehearsal's, whose own failure would otherwise go unnoticed
 * until the rehearsal-failed alarm is needed.
 */
const LAMBDA_ERROR_ALARMS = [
  {
    name: 'rehearsal-errors',
    function: 'rehearsal',
    description:
      'The rehearsal Lambda itself failed (an error, a timeout): the step Lambdas were not rehearsed and RehearsalFailures may not have been published. See its log group.',
  },
];

function lambdaErrorAlarms(cluster, stage) {
  const Resources = {};
  for (const a of LAMBDA_ERROR_ALARMS)
    Resources[alarmLogicalId(a.name)] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(cluster, a.name),
        AlarmDescription: a.description,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: functionName(cluster, stage, a.function) }],
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        // The state holds until the next run: a weekly error must not turn OK a minute later.
        TreatMissingData: 'ignore',
        AlarmActions: [{ Ref: 'NotifyTopic' }],
        OKActions: [{ Ref: 'NotifyTopic' }],
      },
    };
  return Resources;
}

async function resources({ resolveVariable }) {
  const [cluster, stage] = await Promise.all([resolveVariable('self:custom.cluster'), resolveVariable('sls:stage')]);
  const out = build(cluster);
  Object.assign(out.Resources, lambdaErrorAlarms(cluster, stage));
  return out;
}

/** EventBridge: the alarm trigger hears state changes of exactly these alarms (it acts on those that start a workflow). */
async function alarmArns() {
  return [...definitions().alarms, ...LAMBDA_ERROR_ALARMS].map((a) => ({
    'Fn::GetAtt': [alarmLogicalId(a.name), 'Arn'],
  }));
}

module.exports = { build, resources, alarmArns, alarmLogicalId, alarmName, lambdaErrorAlarms, LAMBDA_ERROR_ALARMS };
