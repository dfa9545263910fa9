/**
 * Rules between serverless.yml and the compiled template: every stack parameter reaches the stack on
 * every deploy, and every account-global name carries the cluster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Template, ROOT } from './template';

const yaml = require('js-yaml') as { load(text: string): unknown };

export interface ServerlessConfig {
  params?: { default?: Record<string, unknown> };
  provider?: { stackName?: string; stackParameters?: { ParameterKey: string; ParameterValue: string }[] };
}

export const serverlessConfig = (file = path.join(ROOT, 'serverless.yml')): ServerlessConfig =>
  yaml.load(fs.readFileSync(file, 'utf8')) as ServerlessConfig;

/**
 * Each template Parameter is in provider.stackParameters as `${param:<name>}` with a params.default
 * entry (`--param="<name>=..."` overrides it). Serverless passes only the parameters listed there: one
 * missing would take its template default on every update, silently undoing what the last deploy set.
 */
export function parametersWithoutDeployPath(t: Template, sls: ServerlessConfig): string[] {
  const errs: string[] = [];
  const passed = new Map((sls.provider?.stackParameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]));
  const defaults = sls.params?.default ?? {};
  for (const name of Object.keys(t.Parameters ?? {})) {
    const value = passed.get(name);
    if (value === undefined) {
      errs.push(`Parameter ${name}: not in provider.stackParameters (no deploy-time path)`);
      continue;
    }
    const m = /^\$\{param:([A-Za-z0-9]+)\}$/.exec(String(value));
    if (!m) errs.push(`Parameter ${name}: passed as ${JSON.stringify(value)}, not as a \${param:...} a deploy can set`);
    else if (!(m[1] in defaults)) errs.push(`Parameter ${name}: params.default has no ${m[1]}`);
  }
  for (const key of passed.keys())
    if (!(key in (t.Parameters ?? {}))) errs.push(`stackParameters passes ${key}, which the template does not declare`);
  return errs;
}

/** The name properties of resource types whose names are unique per account and region. */
export const GLOBAL_NAME_PROPERTIES: Record<string, string[]> = {
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::Events::Rule': ['Name'],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::SSM::Parameter': ['Name'],
  'AWS::SSM::Document': ['Name'],
  'AWS::SSM::Association': ['AssociationName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::IAM::InstanceProfile': ['InstanceProfileName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::EC2::LaunchTemplate': ['LaunchTemplateName'],
  'AWS::ElastiCache::ReplicationGroup': ['ReplicationGroupId'],
  'AWS::ElastiCache::SubnetGroup': ['CacheSubnetGroupName'],
  'AWS::ElasticLoadBalancingV2::LoadBalancer': ['Name'],
  'AWS::ElasticLoadBalancingV2::TargetGroup': ['Name'],
};

/** A fixed name of an account-global resource names the cluster (`pgwarden-<cluster>-...`, `pgwarden/<cluster>/...`). */
export function globalNamesWithoutCluster(t: Template, cluster: string): string[] {
  const token = new RegExp(`pgwarden[-/]${cluster.replace(/[^A-Za-z0-9]/g, '\\$&')}([-/]|$)`);
  const errs: string[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    for (const prop of GLOBAL_NAME_PROPERTIES[r.Type] ?? []) {
      const v = r.Properties?.[prop];
      if (v === undefined) continue; // CloudFormation generates a unique name
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      if (!token.test(text)) errs.push(`${id}.${prop} = ${text.slice(0, 80)}: does not name cluster ${cluster}`);
    }
  }
  return errs;
}
