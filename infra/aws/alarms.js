'use strict';
/**
 * CloudWatch alarms and the dashboard, generated from infra/aws/alarms.json (the lab's alarm evaluator
 * reads the same file). Used as `${file(./infra/aws/alarms.js):resources}`; `alarmArns` feeds the
 * EventBridge rule of the alarm trigger.
 */
const { pascal } = require('./naming');
const definitions = () => require('./alarms.json');

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
  const metric = (name, stat) => [defs.namespace, name, 'Cluster', cluster, { stat }];
  const panels = [
    ['Primary writable', [metric('PrimaryWritable', 'Minimum')]],
    ['Write probe latency (ms)', [metric('WriteProbeLatency', 'p99'), metric('WriteProbeLatency', 'Average')]],
    [
      'Replication lag (s / bytes)',
      [metric('ReplicationLagSeconds', 'Maximum'), metric('ReplicationLagBytes', 'Maximum')],
    ],
    ['Standbys streaming / synchronous', [metric('StreamingStandbys', 'Minimum'), metric('SyncStandbys', 'Minimum')]],
    [
      'Transactions (commits, rollbacks /s)',
      [metric('CommitsPerSecond', 'Average'), metric('RollbacksPerSecond', 'Average')],
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
  // Alarm ARNs and the region are spliced in with Fn::Sub (the body is one JSON string).
  let body = JSON.stringify({ widgets }).replaceAll('"AWS_REGION"', '"${AWS::Region}"');
  for (const a of defs.alarms)
    body = body.replaceAll(`ALARM_ARN_${alarmLogicalId(a.name)}`, `\${${alarmLogicalId(a.name)}.Arn}`);
  return { 'Fn::Sub': body };
}

async function resources({ resolveVariable }) {
  return build(await resolveVariable('self:custom.cluster'));
}

/** EventBridge: the alarm trigger hears state changes of exactly these alarms. */
async function alarmArns() {
  return definitions().alarms.map((a) => ({ 'Fn::GetAtt': [alarmLogicalId(a.name), 'Arn'] }));
}

module.exports = { build, resources, alarmArns, alarmLogicalId, alarmName };
