/**
 * The stack's security and shape rules, each a function from a template to its violations (empty =
 * the rule holds). template.test.ts runs each against the compiled stack and against a broken
 * fragment, so that every rule is shown able to fail.
 */
import { type Json, type Resource, type Template, asArray, byType, isObject, walk } from './template';

export type Rule = (t: Template) => string[];

const refName = (v: Json | undefined): string | undefined =>
  isObject(v) && typeof v.Ref === 'string' ? v.Ref : undefined;

interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: Json;
  NotResource?: Json;
  Condition?: Json;
}

/** Every IAM policy statement in identity policies (roles, policies, managed policies), resolving Fn::If branches. */
export function identityStatements(t: Template): { where: string; s: Statement }[] {
  const out: { where: string; s: Statement }[] = [];
  const docs: [string, Json | undefined][] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::User' || r.Type === 'AWS::IAM::Group') {
      asArray(p.Policies as Json[] | undefined).forEach(
        (pol, i) => isObject(pol) && docs.push([`${id}.Policies[${i}]`, pol.PolicyDocument]),
      );
    }
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push([id, p.PolicyDocument]);
  }
  for (const [where, doc] of docs) {
    if (!isObject(doc)) continue;
    for (const s of asArray(doc.Statement as Json | Json[])) {
      if (isObject(s) && Array.isArray(s['Fn::If'])) {
        for (const branch of s['Fn::If'].slice(1))
          if (isObject(branch) && !('Ref' in branch)) out.push({ where, s: branch as Statement });
      } else if (isObject(s)) out.push({ where, s: s as Statement });
    }
  }
  return out;
}

const actions = (s: Statement) => asArray(s.Action).map(String);
const resources = (s: Statement) => asArray(s.Resource as Json | Json[]);

/** No Action "*" nor "<service>:*", and no NotAction, in any identity policy. */
export const noWildcardActions: Rule = (t) =>
  identityStatements(t).flatMap(({ where, s }) => [
    ...actions(s)
      .filter((a) => a === '*' || a.endsWith(':*'))
      .map((a) => `${where}: Action "${a}"`),
    ...(s.NotAction ? [`${where}: NotAction`] : []),
  ]);

/**
 * Actions with no resource-level permissions (IAM service authorization reference): "*" is the
 * narrowest Resource they accept. Anything else with Resource "*" is a violation.
 */
export const RESOURCE_STAR_ALLOWED = new Set([
  'ssm:GetCommandInvocation',
  'ssm:ListCommandInvocations',
  'ssm:CancelCommand',
  'cloudwatch:PutMetricData',
  'cloudwatch:GetMetricData',
  'ec2:DescribeInstances',
  'ec2:DescribeTags',
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'xray:GetTraceSummaries',
  'xray:BatchGetTraces',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'logs:GetQueryResults',
  'logs:StopQuery',
]);
export const noWildcardResources: Rule = (t) =>
  identityStatements(t).flatMap(({ where, s }) => {
    if (s.NotResource) return [`${where}: NotResource`];
    if (!resources(s).includes('*')) return [];
    return actions(s)
      .filter((a) => !RESOURCE_STAR_ALLOWED.has(a))
      .map((a) => `${where}: ${a} on Resource "*" (the service supports narrower)`);
  });

/** ssm:SendCommand only on the cluster's pgwarden-* documents, or on instances carrying the cluster tag. */
export const sendCommandScoped: Rule = (t) =>
  identityStatements(t).flatMap(({ where, s }) => {
    if (s.Effect !== 'Allow' || !actions(s).some((a) => a === 'ssm:SendCommand' || a === 'ssm:*' || a === '*'))
      return [];
    return resources(s).flatMap((r) => {
      const text = JSON.stringify(r);
      if (/:document\/pgwarden-[a-z-]+"/.test(text) && !text.includes('*')) return [];
      if (/:instance\/\*"/.test(text)) {
        const cond = JSON.stringify(s.Condition ?? {});
        return /"ssm:resourceTag\/pgwarden:cluster":"[^"]+"/.test(cond)
          ? []
          : [`${where}: SendCommand on ${text} without the cluster tag condition`];
      }
      return [`${where}: SendCommand on ${text}`];
    });
  });

const ingressRules = (t: Template): { where: string; group: string | undefined; rule: Record<string, Json> }[] => {
  const out: { where: string; group: string | undefined; rule: Record<string, Json> }[] = [];
  for (const [id, r] of byType(t, 'AWS::EC2::SecurityGroup')) {
    asArray(r.Properties?.SecurityGroupIngress as Json[] | undefined).forEach((rule, i) => {
      if (isObject(rule)) out.push({ where: `${id}.SecurityGroupIngress[${i}]`, group: id, rule });
    });
  }
  for (const [id, r] of byType(t, 'AWS::EC2::SecurityGroupIngress')) {
    out.push({ where: id, group: refName(r.Properties?.GroupId), rule: r.Properties ?? {} });
  }
  return out;
};

const portRange = (rule: Record<string, Json>): [number, number] => {
  if (String(rule.IpProtocol) === '-1') return [0, 65535];
  return [Number(rule.FromPort ?? 0), Number(rule.ToPort ?? 65535)];
};

/** The security groups attached to an internet-facing application load balancer. */
const albGroups = (t: Template) =>
  new Set(
    byType(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer')
      .filter(([, r]) => r.Properties?.Type === 'application' && r.Properties?.Scheme === 'internet-facing')
      .flatMap(([, r]) => asArray(r.Properties?.SecurityGroups as Json[]).map(refName)),
  );

/** 0.0.0.0/0 (or ::/0) ingress only for tcp 443, and only on a public ALB's security group. */
export const noOpenIngress: Rule = (t) => {
  const alb = albGroups(t);
  return ingressRules(t).flatMap(({ where, group, rule }) => {
    if (rule.CidrIp !== '0.0.0.0/0' && rule.CidrIpv6 !== '::/0') return [];
    const [from, to] = portRange(rule);
    const ok = String(rule.IpProtocol) === 'tcp' && from === 443 && to === 443 && group !== undefined && alb.has(group);
    return ok ? [] : [`${where}: open to the internet on ${rule.IpProtocol} ${from}-${to}`];
  });
};

/** No SSH: no ingress covering port 22, and no key pair on any instance or launch template. */
export const noSsh: Rule = (t) => [
  ...ingressRules(t).flatMap(({ where, rule }) => {
    const [from, to] = portRange(rule);
    return from <= 22 && 22 <= to ? [`${where}: ingress covers port 22`] : [];
  }),
  ...[...byType(t, 'AWS::EC2::Instance'), ...byType(t, 'AWS::EC2::LaunchTemplate')].flatMap(([id, r]) => {
    const data =
      (r.Type === 'AWS::EC2::LaunchTemplate'
        ? (r.Properties?.LaunchTemplateData as Record<string, Json>)
        : r.Properties) ?? {};
    return data.KeyName !== undefined ? [`${id}: KeyName set`] : [];
  }),
];

/** Subnets routed to an internet gateway. */
const publicSubnets = (t: Template) => {
  const igwTables = new Set(
    byType(t, 'AWS::EC2::Route')
      .filter(
        ([, r]) =>
          r.Properties?.GatewayId !== undefined &&
          refName(r.Properties.GatewayId) !== undefined &&
          t.Resources[refName(r.Properties.GatewayId)!]?.Type === 'AWS::EC2::InternetGateway',
      )
      .map(([, r]) => refName(r.Properties?.RouteTableId)),
  );
  return new Set(
    byType(t, 'AWS::EC2::SubnetRouteTableAssociation')
      .filter(([, r]) => igwTables.has(refName(r.Properties?.RouteTableId)))
      .map(([, r]) => refName(r.Properties?.SubnetId)),
  );
};

const launchData = (t: Template, r: Resource): Record<string, Json> | undefined => {
  const lt = refName((r.Properties?.LaunchTemplate as Record<string, Json> | undefined)?.LaunchTemplateId);
  return lt ? (t.Resources[lt]?.Properties?.LaunchTemplateData as Record<string, Json>) : undefined;
};

/** EC2 instances: in subnets without an internet route, no public IP requested, none mapped on launch. */
export const noPublicIpOnInstances: Rule = (t) => {
  const pub = publicSubnets(t);
  return byType(t, 'AWS::EC2::Instance').flatMap(([id, r]) => {
    const p = r.Properties ?? {};
    // The instance's own network settings, or its launch template's.
    const lt = launchData(t, r) ?? {};
    const nics = [...asArray(p.NetworkInterfaces as Json[]), ...asArray(lt.NetworkInterfaces as Json[])].filter(
      isObject,
    );
    const subnets = [refName(p.SubnetId), ...nics.map((n) => refName(n.SubnetId))].filter((s): s is string => !!s);
    const errs: string[] = [];
    if (!subnets.length) errs.push(`${id}: no subnet named`);
    for (const s of subnets) {
      if (pub.has(s)) errs.push(`${id}: in public subnet ${s}`);
      if (t.Resources[s]?.Properties?.MapPublicIpOnLaunch === true) errs.push(`${id}: subnet ${s} maps public IPs`);
    }
    for (const n of nics)
      if (n.AssociatePublicIpAddress !== false) errs.push(`${id}: AssociatePublicIpAddress is not false`);
    return errs;
  });
};

/** IMDSv2 only (HttpTokens required) for every instance, through its launch template. */
export const imdsV2Only: Rule = (t) =>
  byType(t, 'AWS::EC2::Instance').flatMap(([id, r]) => {
    const md = launchData(t, r)?.MetadataOptions;
    return isObject(md) && md.HttpTokens === 'required' ? [] : [`${id}: IMDSv2 not required`];
  });

/** Every EBS volume (launch templates, instances, standalone) encrypted, gp3. */
export const encryptedGp3Volumes: Rule = (t) => {
  const errs: string[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const bdms =
      r.Type === 'AWS::EC2::LaunchTemplate'
        ? (r.Properties?.LaunchTemplateData as Record<string, Json> | undefined)?.BlockDeviceMappings
        : r.Type === 'AWS::EC2::Instance'
          ? r.Properties?.BlockDeviceMappings
          : undefined;
    for (const b of asArray(bdms as Json[])) {
      const ebs = isObject(b) ? b.Ebs : undefined;
      if (isObject(ebs) && (ebs.Encrypted !== true || ebs.VolumeType !== 'gp3'))
        errs.push(`${id}: volume ${isObject(b) ? b.DeviceName : '?'} not encrypted gp3`);
    }
    if (r.Type === 'AWS::EC2::Volume' && (r.Properties?.Encrypted !== true || r.Properties?.VolumeType !== 'gp3'))
      errs.push(`${id}: not encrypted gp3`);
  }
  return errs;
};

const SECRET_KEY = /(password|passwd|secret|token)$/i;
/**
 * No secret in plain text: a property named like a password/token holds a dynamic reference or a Ref,
 * never a literal; user data and Lambda environments carry no literal password assignment.
 */
export const noPlaintextSecrets: Rule = (t) => {
  const errs: string[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    for (const [v, at] of walk(r.Properties as Json)) {
      const key = at[at.length - 1] ?? '';
      if (
        SECRET_KEY.test(key) &&
        !/^(GenerateSecretString|SecretStringTemplate|NoEcho|ServiceToken)$/.test(key) &&
        r.Type !== 'AWS::SecretsManager::Secret'
      ) {
        const text = JSON.stringify(v);
        if (typeof v === 'string' || !/resolve:(secretsmanager|ssm-secure)|"Ref"/.test(text))
          errs.push(`${id}.${at.join('.')}: literal secret`);
      }
      if (typeof v === 'string' && /(PGW_PW_[A-Z]+|PGPASSWORD|password)\s*=\s*['"]?[A-Za-z0-9]{8,}/.test(v))
        errs.push(`${id}.${at.join('.')}: password assigned in plain text`);
    }
    if (r.Type === 'AWS::SecretsManager::Secret' && r.Properties?.SecretString !== undefined)
      errs.push(`${id}: SecretString literal`);
  }
  return errs;
};

/** ElastiCache for Redis: Multi-AZ with failover, TLS in transit, encryption at rest, AUTH token from Secrets Manager. */
export const redisSecure: Rule = (t) => {
  const groups = byType(t, 'AWS::ElastiCache::ReplicationGroup');
  if (!groups.length) return ['no ElastiCache replication group'];
  return groups.flatMap(([id, r]) => {
    const p = r.Properties ?? {};
    const errs: string[] = [];
    for (const k of [
      'MultiAZEnabled',
      'AutomaticFailoverEnabled',
      'TransitEncryptionEnabled',
      'AtRestEncryptionEnabled',
    ]) {
      if (p[k] !== true) errs.push(`${id}: ${k} is not true`);
    }
    if (!/resolve:secretsmanager:/.test(JSON.stringify(p.AuthToken ?? '')))
      errs.push(`${id}: AuthToken not from Secrets Manager`);
    return errs;
  });
};

export const REQUIRED_ENDPOINTS = [
  'ssm',
  'ec2messages',
  'ssmmessages',
  'monitoring',
  'logs',
  'xray',
  'states',
  'sns',
  'secretsmanager',
  'cloudformation',
  's3',
  'dynamodb',
];
/** No NAT: no NAT gateway, private route tables without a default route; every needed VPC endpoint present. */
export const endpointsNotNat: Rule = (t) => {
  const errs = byType(t, 'AWS::EC2::NatGateway').map(([id]) => `${id}: NAT gateway`);
  const pub = publicSubnets(t);
  for (const [id, r] of byType(t, 'AWS::EC2::Route')) {
    const table = refName(r.Properties?.RouteTableId);
    const isPublicTable = byType(t, 'AWS::EC2::SubnetRouteTableAssociation').some(
      ([, a]) => refName(a.Properties?.RouteTableId) === table && pub.has(refName(a.Properties?.SubnetId)),
    );
    if (!isPublicTable && (r.Properties?.NatGatewayId !== undefined || r.Properties?.InstanceId !== undefined))
      errs.push(`${id}: route to NAT`);
  }
  const services = byType(t, 'AWS::EC2::VPCEndpoint').map(([, r]) => {
    const m = /com\.amazonaws\.\$\{AWS::Region\}\.([a-z0-9-]+)/.exec(JSON.stringify(r.Properties?.ServiceName));
    return [m?.[1], r.Properties?.VpcEndpointType] as const;
  });
  for (const s of REQUIRED_ENDPOINTS) {
    const want = s === 's3' || s === 'dynamodb' ? 'Gateway' : 'Interface';
    if (!services.some(([n, type]) => n === s && type === want)) errs.push(`missing ${want} endpoint for ${s}`);
  }
  return errs;
};

/** Lambdas: arm64, in the VPC's private subnets, X-Ray active. */
export const lambdasArmVpcTraced: Rule = (t) => {
  const pub = publicSubnets(t);
  return byType(t, 'AWS::Lambda::Function').flatMap(([id, r]) => {
    const p = r.Properties ?? {};
    const errs: string[] = [];
    if (JSON.stringify(p.Architectures) !== '["arm64"]') errs.push(`${id}: not arm64`);
    const subnets = asArray((p.VpcConfig as Record<string, Json> | undefined)?.SubnetIds as Json[]).map(refName);
    if (!subnets.length) errs.push(`${id}: not in the VPC`);
    for (const s of subnets) if (!s || pub.has(s)) errs.push(`${id}: subnet ${s} is not private`);
    if ((p.TracingConfig as Record<string, Json> | undefined)?.Mode !== 'Active')
      errs.push(`${id}: tracing not active`);
    return errs;
  });
};

/** State machines: Standard, logging ALL to CloudWatch Logs, X-Ray tracing on. */
export const stateMachinesLoggedTraced: Rule = (t) =>
  byType(t, 'AWS::StepFunctions::StateMachine').flatMap(([id, r]) => {
    const p = r.Properties ?? {};
    const errs: string[] = [];
    if (p.StateMachineType !== 'STANDARD') errs.push(`${id}: not STANDARD`);
    if ((p.LoggingConfiguration as Record<string, Json> | undefined)?.Level !== 'ALL')
      errs.push(`${id}: logging not ALL`);
    if ((p.TracingConfiguration as Record<string, Json> | undefined)?.Enabled !== true) errs.push(`${id}: tracing off`);
    return errs;
  });

export const SECURITY_RULES: Record<string, Rule> = {
  'no Action "*" in IAM policies': noWildcardActions,
  'no Resource "*" where the service supports narrower': noWildcardResources,
  'ssm:SendCommand only on the cluster documents and tagged instances': sendCommandScoped,
  'no 0.0.0.0/0 ingress except HTTPS on the ALB': noOpenIngress,
  'no SSH': noSsh,
  'no public IP on data nodes': noPublicIpOnInstances,
  'IMDSv2 only': imdsV2Only,
  'EBS volumes encrypted gp3': encryptedGp3Volumes,
  'no secrets in plain text': noPlaintextSecrets,
  'Redis Multi-AZ, TLS, at-rest encryption, AUTH from Secrets Manager': redisSecure,
  'VPC endpoints and no NAT': endpointsNotNat,
  'Lambdas arm64, in private subnets, traced': lambdasArmVpcTraced,
  'state machines Standard, logged, traced': stateMachinesLoggedTraced,
};
