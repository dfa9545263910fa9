/**
 * Least privilege, derived from the code: for each Lambda of the template, the AWS actions its handler
 * can perform are the SDK commands (`new <X>Command(`) sent by the adapter files its import graph
 * reaches (infra/aws/handler-ports.js). Its role must grant exactly those, beside the baseline every
 * Lambda needs and the KMS calls those services make with the caller's rights.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Json, type Template, asArray, byType, isObject } from './template';
import { identityStatements } from './rules';
import { ROOT } from './template';

const { handlerReach, code } = require('../../infra/aws/handler-ports') as {
  handlerReach(handler: string): { entry: string; ports: string[]; adapters: string[] };
  code(file: string): string;
};

/** IAM service prefix of each AWS SDK v3 client package. */
const SERVICE_OF_CLIENT: Record<string, string> = {
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-cloudwatch-logs': 'logs',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-lambda': 'lambda',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-xray': 'xray',
};

/** Commands whose IAM action is not named after them (IAM service authorization reference). */
const ACTION_OF_COMMAND: Record<string, string> = {
  'lambda:Invoke': 'lambda:InvokeFunction',
  's3:ListObjectsV2': 's3:ListBucket',
};

/** What every Lambda's role holds whatever its code does: its logs, its VPC interfaces, X-Ray. */
export const BASELINE_ACTIONS = new Set([
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
]);

/** Services that call KMS with the caller's rights when the data is encrypted with the stack's keys. */
const KMS_FOR = new Set(['secretsmanager', 'sns', 'dynamodb', 's3']);

/** `new XCommand(` in a file, with X imported from an @aws-sdk client: the IAM actions it sends. */
export function sdkActions(file: string): string[] {
  const text = code(path.join(ROOT, file));
  const from = new Map<string, string>();
  for (const m of text.matchAll(/import\s*\{([^}]+)\}\s*from\s*'(@aws-sdk\/[^']+)'/g))
    for (const n of m[1].split(',').map((s) => s.replace(/^\s*type\s+/, '').trim()))
      if (n) from.set(n.split(/\s+as\s+/).pop()!, m[2]);
  const out = new Set<string>();
  for (const m of text.matchAll(/\bnew\s+(\w+)Command\s*\(/g)) {
    const mod = from.get(`${m[1]}Command`);
    if (!mod) throw new Error(`${file}: ${m[1]}Command is not imported from an @aws-sdk client`);
    const service = SERVICE_OF_CLIENT[mod];
    if (!service) throw new Error(`${file}: no IAM service prefix known for ${mod}`);
    const action = `${service}:${m[1]}`;
    out.add(ACTION_OF_COMMAND[action] ?? action);
  }
  return [...out].sort();
}

/** handler -> the actions its code can send (the derived table). */
export function derivedActions(handler: string): string[] {
  return [...new Set(handlerReach(handler).adapters.flatMap(sdkActions))].sort();
}

const roleOf = (t: Template, fnId: string): string | undefined => {
  const role = t.Resources[fnId]?.Properties?.Role as Json;
  const ga = isObject(role) ? role['Fn::GetAtt'] : undefined;
  return Array.isArray(ga) ? String(ga[0]) : undefined;
};

/** Each Lambda has a role of its own, granting exactly the derived actions (plus baseline and implied KMS). */
export function rolesMatchCode(t: Template, derive: (handler: string) => string[] = derivedActions): string[] {
  const errs: string[] = [];
  const fns = byType(t, 'AWS::Lambda::Function');
  const owners = new Map<string, string[]>();
  for (const [id] of fns) {
    const role = roleOf(t, id);
    if (!role || !t.Resources[role]) {
      errs.push(`${id}: no role of its own in the stack`);
      continue;
    }
    owners.set(role, [...(owners.get(role) ?? []), id]);
  }
  for (const [role, ids] of owners)
    if (ids.length > 1) errs.push(`${role} serves ${ids.length} Lambdas (${ids.join(', ')}): one role per Lambda`);

  for (const [id, fn] of fns) {
    const role = roleOf(t, id);
    if (!role || !t.Resources[role]) continue;
    const handler = String(fn.Properties?.Handler);
    const want = new Set(derive(handler));
    const granted = new Set(
      identityStatements({ Resources: { [role]: t.Resources[role] } })
        .filter(({ s }) => s.Effect === 'Allow')
        .flatMap(({ s }) => asArray(s.Action).map(String)),
    );
    for (const a of granted) {
      if (BASELINE_ACTIONS.has(a) || want.has(a)) continue;
      if (a.startsWith('kms:') && [...want].some((w) => KMS_FOR.has(w.split(':')[0]))) continue;
      errs.push(`${id} (${handler}): role grants ${a}, which its code never calls`);
    }
    for (const a of want) if (!granted.has(a)) errs.push(`${id} (${handler}): code calls ${a}, role does not grant it`);
  }
  return errs;
}

/** The handler files serverless.yml points at exist (a role derived from a missing file means nothing). */
export const handlerExists = (handler: string) =>
  ['.ts', '.js'].some((e) => fs.existsSync(path.join(ROOT, handler.replace(/\.[^./]+$/, '') + e)));
