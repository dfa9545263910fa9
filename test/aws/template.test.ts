/**
 * The compiled CloudFormation template of serverless.yml: packaged once, offline, with no AWS
 * credentials, then checked against the resource specification, for references, and rule by rule.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dependencyCycles, referenceErrors, specErrors } from './spec';
import { parametersWithoutDeployPath, serverlessConfig, globalNamesWithoutCluster } from './deploy';
import { derivedActions, rolesMatchCode } from './iam';
import { REQUIRED_ENDPOINTS, SECURITY_RULES, identityStatements, type Rule } from './rules';
import { dependencyAnalysis, statefulNotReplacedByParameters, statefulResources, statefulRetained } from './stateful';
import {
  type Json,
  type Packaged,
  type Resource,
  type Template,
  ROOT,
  asArray,
  byType,
  isObject,
  packageStack,
} from './template';
import { taskTimeoutErrors } from './timeouts';
import { handlersWithoutRehearsal, rehearsalErrors, rehearsalLambdas, taskLambdas } from './rehearsal';
import { NODE_ACTIONS } from '../../functions/lib/ports';
import eventRules from '../../functions/triggers/event-rules.json';

const aslValidator = require('asl-validator') as (d: unknown) => { isValid: boolean; errors: unknown[] };
const { agentConfigText } = require('../../infra/aws/nodes') as { agentConfigText(cluster: string): string };
const { stepFunctions, REHEARSAL_SCHEDULE_DEFAULT } = require('../../infra/aws/functions') as {
  stepFunctions(): { key: string }[];
  REHEARSAL_SCHEDULE_DEFAULT: string;
};
const { workflows, functionLogicalId } = require('../../infra/aws/naming') as {
  workflows(): { name: string; logicalId: string; placeholders: string[] }[];
  functionLogicalId(key: string): string;
};
const { fill: fillPattern } = require('../../infra/aws/event-rules') as { fill(pattern: unknown): Promise<Json> };

jest.setTimeout(300_000);

let packaged: Packaged;
let t: Template;
beforeAll(() => {
  packaged = packageStack();
  t = packaged.template;
  console.log(`serverless package: ${packaged.seconds.toFixed(1)} s, ${Object.keys(t.Resources).length} resources`);
});

describe('packaging', () => {
  it('packages the real tree: every handler file serverless.yml needs exists', () => {
    expect(packaged.missingHandlers).toEqual([]);
  });
  it('leaves nothing in the temp directory (serverless-esbuild zips from folders it does not remove)', () => {
    expect(packaged.tmpLeftovers).toEqual([]);
  });
});

describe('CloudFormation resource specification', () => {
  it('knows every resource type and property used, and every required property is set', () => {
    expect(specErrors(t)).toEqual([]);
  });
  it('catches an unknown type, an unknown property and a missing required property', () => {
    const broken: Template = {
      Resources: {
        A: { Type: 'AWS::EC2::Nope' },
        B: { Type: 'AWS::SNS::Topic', Properties: { TopicNam: 'x' } },
        C: { Type: 'AWS::EC2::Subnet', Properties: { CidrBlock: '10.0.0.0/24' } },
        D: {
          Type: 'AWS::EC2::LaunchTemplate',
          Properties: { LaunchTemplateData: { MetadataOptions: { HttpToken: 'required' } } },
        },
      },
    };
    const errs = specErrors(broken);
    expect(errs).toEqual(
      expect.arrayContaining([
        expect.stringContaining('unknown resource type AWS::EC2::Nope'),
        expect.stringContaining('has no property TopicNam'),
        expect.stringContaining('missing required VpcId'),
        expect.stringContaining('has no property HttpToken'),
      ]),
    );
  });
});

describe('references', () => {
  it('every Ref, GetAtt, Sub variable, DependsOn and Condition resolves', () => {
    expect(referenceErrors(t)).toEqual([]);
  });
  it('has no dependency cycle', () => {
    expect(dependencyCycles(t)).toEqual([]);
  });
  it('catches dangling references and cycles', () => {
    const broken: Template = {
      Resources: {
        A: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { Ref: 'Missing' } } },
        B: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::GetAtt': ['A', 'NoSuchAttr'] } } },
        C: {
          Type: 'AWS::SNS::Topic',
          Properties: { DisplayName: { 'Fn::Sub': '${Nope}-${AWS::Region}-${!Literal}' } },
        },
        D: { Type: 'AWS::SNS::Topic', DependsOn: 'E', Properties: { DisplayName: { Ref: 'E' } } },
        E: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::GetAtt': ['D', 'TopicName'] } } },
      },
    };
    expect(referenceErrors(broken)).toEqual([
      expect.stringContaining('Ref to missing Missing'),
      expect.stringContaining('has no attribute NoSuchAttr'),
      expect.stringContaining('${Nope} resolves to nothing'),
    ]);
    expect(dependencyCycles(broken)).toEqual([expect.stringMatching(/D -> E -> D|E -> D -> E/)]);
  });
});

/** One deliberately broken fragment per rule: the rule must report it. */
const VPC = {
  Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
  Igw: { Type: 'AWS::EC2::InternetGateway' },
  PublicTable: { Type: 'AWS::EC2::RouteTable', Properties: { VpcId: { Ref: 'Vpc' } } },
  PublicRoute: {
    Type: 'AWS::EC2::Route',
    Properties: { RouteTableId: { Ref: 'PublicTable' }, DestinationCidrBlock: '0.0.0.0/0', GatewayId: { Ref: 'Igw' } },
  },
  PublicSubnet: { Type: 'AWS::EC2::Subnet', Properties: { VpcId: { Ref: 'Vpc' }, CidrBlock: '10.0.0.0/24' } },
  PublicAssoc: {
    Type: 'AWS::EC2::SubnetRouteTableAssociation',
    Properties: { SubnetId: { Ref: 'PublicSubnet' }, RouteTableId: { Ref: 'PublicTable' } },
  },
};
const role = (statements: Json[]) => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: {},
    Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
  },
});
const BROKEN: Record<string, Template> = {
  'no Action "*" in IAM policies': {
    Resources: { R: role([{ Effect: 'Allow', Action: 'ssm:*', Resource: 'arn:aws:ssm:::x' }]) },
  },
  'no Resource "*" where the service supports narrower': {
    Resources: { R: role([{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: '*' }]) },
  },
  'ssm:SendCommand only on the cluster documents and tagged instances': {
    Resources: {
      R: role([
        {
          Effect: 'Allow',
          Action: ['ssm:SendCommand'],
          Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*' }],
        },
      ]),
    },
  },
  'no 0.0.0.0/0 ingress except HTTPS on the ALB': {
    Resources: {
      Sg: {
        Type: 'AWS::EC2::SecurityGroup',
        Properties: {
          GroupDescription: 'db',
          SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIp: '0.0.0.0/0' }],
        },
      },
    },
  },
  'no SSH': {
    Resources: {
      Sg: {
        Type: 'AWS::EC2::SecurityGroupIngress',
        Properties: { GroupId: 'sg-1', IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '10.0.0.0/8' },
      },
    },
  },
  'no public IP on data nodes': {
    Resources: {
      ...VPC,
      I: {
        Type: 'AWS::EC2::Instance',
        Properties: {
          NetworkInterfaces: [{ DeviceIndex: '0', SubnetId: { Ref: 'PublicSubnet' }, AssociatePublicIpAddress: true }],
        },
      },
    },
  },
  'IMDSv2 only': {
    Resources: {
      Lt: {
        Type: 'AWS::EC2::LaunchTemplate',
        Properties: { LaunchTemplateData: { MetadataOptions: { HttpTokens: 'optional' } } },
      },
      I: {
        Type: 'AWS::EC2::Instance',
        Properties: { LaunchTemplate: { LaunchTemplateId: { Ref: 'Lt' }, Version: '1' } },
      },
    },
  },
  'EBS volumes encrypted gp3': {
    Resources: {
      Lt: {
        Type: 'AWS::EC2::LaunchTemplate',
        Properties: {
          LaunchTemplateData: {
            BlockDeviceMappings: [{ DeviceName: '/dev/sdf', Ebs: { VolumeType: 'gp3', Encrypted: false } }],
          },
        },
      },
    },
  },
  'no secrets in plain text': {
    Resources: {
      Redis: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { AuthToken: 'hunter2hunter2hunter2' } },
      I: {
        Type: 'AWS::EC2::Instance',
        Properties: { UserData: { 'Fn::Base64': 'echo PGW_PW_POSTGRES=Sup3rSecretPassw0rd >/etc/x' } },
      },
    },
  },
  'Redis Multi-AZ, TLS, at-rest encryption, AUTH from Secrets Manager': {
    Resources: {
      Redis: {
        Type: 'AWS::ElastiCache::ReplicationGroup',
        Properties: {
          MultiAZEnabled: true,
          AutomaticFailoverEnabled: true,
          TransitEncryptionEnabled: false,
          AtRestEncryptionEnabled: true,
        },
      },
    },
  },
  'VPC endpoints and no NAT': {
    Resources: { ...VPC, Nat: { Type: 'AWS::EC2::NatGateway', Properties: { SubnetId: { Ref: 'PublicSubnet' } } } },
  },
  'Lambdas arm64, in private subnets, traced': {
    Resources: { F: { Type: 'AWS::Lambda::Function', Properties: { Architectures: ['x86_64'], Code: {}, Role: 'r' } } },
  },
  'state machines Standard, logged, traced': {
    Resources: {
      S: { Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineType: 'EXPRESS', RoleArn: 'r' } },
    },
  },
};

describe('security rules', () => {
  describe.each(Object.entries(SECURITY_RULES))('%s', (name: string, rule: Rule) => {
    it('holds for the stack', () => {
      expect(rule(t)).toEqual([]);
    });
    it('fails on a broken fragment', () => {
      expect(BROKEN[name]).toBeDefined();
      expect(rule(BROKEN[name]).length).toBeGreaterThan(0);
    });
  });
});

describe('the build-out', () => {
  const azOf = (subnet: string) => JSON.stringify(t.Resources[subnet]?.Properties?.AvailabilityZone);
  /** An instance's launch template data (every instance takes its settings from its own template). */
  const launch = (id: string) => {
    const spec = t.Resources[id].Properties?.LaunchTemplate as { LaunchTemplateId: { Ref: string } };
    return t.Resources[spec.LaunchTemplateId.Ref].Properties?.LaunchTemplateData as Record<string, Json>;
  };
  const userDataOf = (id: string) => JSON.stringify(launch(id).UserData);
  const subnetOf = (id: string) => {
    const nic = (launch(id).NetworkInterfaces as Json[])[0] as Record<string, Json>;
    return (nic.SubnetId as { Ref: string }).Ref;
  };
  it('spans 3 AZs with a private and a public subnet in each', () => {
    const subnets = byType(t, 'AWS::EC2::Subnet');
    expect(new Set(subnets.map(([id]) => azOf(id))).size).toBe(3);
    expect(subnets).toHaveLength(6);
  });
  it('runs 3 PostgreSQL nodes, one per AZ, AL2023 arm64, bootstrapped from infra/node', () => {
    const nodes = byType(t, 'AWS::EC2::Instance').filter(
      ([, r]) => JSON.stringify(r.Properties?.Tags).includes('"pgwarden:role","Value":"node"') && !r.Condition,
    );
    expect(nodes).toHaveLength(3);
    expect(new Set(nodes.map(([id]) => azOf(subnetOf(id)))).size).toBe(3);
    // A pinned image id, never the public "latest" parameter: an image changes only on purpose.
    expect(t.Parameters?.NodeImageId).toMatchObject({ Type: 'AWS::EC2::Image::Id' });
    expect(t.Parameters?.NodeImageId).not.toHaveProperty('Default');
    expect(JSON.stringify(t)).not.toContain('ami-amazon-linux-latest');
    const userData = nodes.map(([id]) => userDataOf(id));
    expect(userData.filter((u) => u.includes('bootstrap-primary.sh') && u.includes('primary'))).toHaveLength(3);
    expect(userData.every((u) => u.includes('bootstrap-standby.sh') && u.includes('postgresql15-server'))).toBe(true);
  });
  it('initialises PostgreSQL with the WAL segment size of parameter WalSegmentSizeMB (4 MB by default)', () => {
    expect(t.Parameters?.WalSegmentSizeMB).toMatchObject({ Default: '4' });
    const nodes = byType(t, 'AWS::EC2::Instance').filter(([, r]) =>
      JSON.stringify(r.Properties?.Tags).includes('"pgwarden:role","Value":"node"'),
    );
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const [id] of nodes) {
      const ud = userDataOf(id);
      expect({ id, env: ud.includes('PGW_WAL_SEGSIZE_MB=${WalSegmentSizeMB}') }).toEqual({ id, env: true });
      expect({ id, ref: ud.includes('"WalSegmentSizeMB":{"Ref":"WalSegmentSizeMB"}') }).toEqual({ id, ref: true });
    }
  });
  it('keeps a spare node (parameter SpareNodes) that the topology lists as removed and every pgpool as a backend', () => {
    const spares = byType(t, 'AWS::EC2::Instance').filter(([, r]) => r.Condition === 'HasSpareNode');
    expect(spares.map(([id]) => id)).toEqual(['Node4Instance']);
    const ud = userDataOf(spares[0][0]);
    expect(ud).toContain('postgresql15-server');
    expect(ud).toContain('is a spare node');
    expect(t.Conditions?.HasSpareNode).toEqual({ 'Fn::Equals': [{ Ref: 'SpareNodes' }, '1'] });
    // {"Fn::Join": ["", ["{...\"nodes\":[", {"Fn::If": [...]}, ...]]}
    const topo = JSON.parse(JSON.stringify(t.Resources.TopologySeed.Properties?.Document));
    const [cond, withSpare, without] = topo['Fn::Join'][1][1]['Fn::If'] as [string, Json, Json];
    expect(cond).toBe('HasSpareNode');
    // The string pieces of the value, joined: the document's text around the instances' attributes.
    const text = (j: unknown): string =>
      typeof j === 'string'
        ? j
        : Array.isArray(j)
          ? j.map(text).join('')
          : isObject(j)
            ? Object.values(j).map(text).join('')
            : '';
    expect(text(withSpare)).toContain('{"name":"pg4","host":"');
    expect(text(withSpare)).toContain('"backendId":3,"role":"removed"');
    expect(JSON.stringify(without)).not.toContain('Node4Instance');
    for (const [id] of byType(t, 'AWS::EC2::Instance').filter(([id]) => id.startsWith('Pgpool')))
      expect(userDataOf(id)).toContain('"Fn::If":["HasSpareNode"');
  });
  it('refers to a conditional resource only under its condition', () => {
    // CloudFormation rejects a Ref/GetAtt/DependsOn of a resource whose condition may be false, unless
    // it is inside Fn::If on that condition or in a resource with the same condition.
    const conditional = new Map(
      Object.entries(t.Resources)
        .filter(([, r]) => r.Condition)
        .map(([id, r]) => [id, r.Condition as string]),
    );
    const bad: string[] = [];
    const walk = (v: unknown, where: string, under: Set<string>): void => {
      if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${where}[${i}]`, under));
      if (!isObject(v)) return;
      if (Array.isArray(v['Fn::If'])) {
        const [c, a, b] = v['Fn::If'] as [string, unknown, unknown];
        walk(a, `${where}.If(${c})`, new Set([...under, c]));
        walk(b, `${where}.IfNot(${c})`, under);
        return;
      }
      const target =
        typeof v.Ref === 'string'
          ? v.Ref
          : Array.isArray(v['Fn::GetAtt'])
            ? String((v['Fn::GetAtt'] as unknown[])[0])
            : undefined;
      const c = target ? conditional.get(target) : undefined;
      if (c && !under.has(c)) bad.push(`${where} -> ${target}`);
      for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`, under);
    };
    for (const [id, r] of Object.entries(t.Resources)) {
      const under = new Set(r.Condition ? [r.Condition as string] : []);
      walk(r.Properties, id, under);
      for (const d of ([] as string[]).concat((r.DependsOn as string[] | string | undefined) ?? []))
        if (conditional.has(d) && !under.has(conditional.get(d)!)) bad.push(`${id}.DependsOn -> ${d}`);
    }
    walk(t.Outputs, 'Outputs', new Set());
    expect(bad).toEqual([]);
  });
  it('puts 2 pgpool instances behind an internal NLB', () => {
    const nlb = byType(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').filter(
      ([, r]) => r.Properties?.Type === 'network',
    );
    expect(nlb).toHaveLength(1);
    expect(nlb[0][1].Properties?.Scheme).toBe('internal');
    const tg = byType(t, 'AWS::ElasticLoadBalancingV2::TargetGroup').find(([, r]) => r.Properties?.Protocol === 'TCP');
    expect((tg?.[1].Properties?.Targets as Json[]).length).toBe(2);
  });
  it('serves the app through an ALB with an HTTPS listener on 443 using the certificate parameter', () => {
    const l = byType(t, 'AWS::ElasticLoadBalancingV2::Listener').find(([, r]) => r.Properties?.Protocol === 'HTTPS');
    expect(l?.[1].Properties?.Port).toBe(443);
    expect(JSON.stringify(l?.[1].Properties?.Certificates)).toContain('{"Ref":"CertificateArn"}');
  });
  it('defines one SSM document per node action (functions/lib/node-actions.json), running its infra/node script', () => {
    const docs = byType(t, 'AWS::SSM::Document').map(([, r]) => r.Properties?.Name);
    expect(NODE_ACTIONS.length).toBeGreaterThan(0);
    expect([...docs].sort()).toEqual(
      [...NODE_ACTIONS.map((a) => `pgwarden-main-${a}`), 'pgwarden-main-install-node-scripts'].sort(),
    );
    const follow = byType(t, 'AWS::SSM::Document').find(([, r]) => r.Properties?.Name === 'pgwarden-main-follow')![1];
    const text = JSON.stringify(follow.Properties?.Content);
    expect(text).toContain("export PGW_PARAM_PRIMARY_HOST='{{ PRIMARY_HOST }}'");
    expect(text).toContain('/opt/pgwarden/node/follow.sh');
  });
  it('ships infra/node to the instances inside an SSM document under its 64 KB limit', () => {
    const doc = byType(t, 'AWS::SSM::Document').find(
      ([, r]) => r.Properties?.Name === 'pgwarden-main-install-node-scripts',
    )![1];
    expect(JSON.stringify(doc.Properties?.Content).length).toBeLessThan(60_000);
  });
  it('creates every log group the CloudWatch agent configuration ships to', () => {
    const text = agentConfigText('main');
    const wanted = [...text.matchAll(/"log_group_name":\s*"([^"]+)"/g)].map((m) => m[1]);
    const groups = byType(t, 'AWS::Logs::LogGroup').map(([, r]) => r.Properties?.LogGroupName);
    expect(wanted.length).toBeGreaterThan(0);
    for (const g of wanted) expect(groups).toContain(g);
  });
  it('has alarms, a dashboard, an SNS topic and KMS keys with rotation', () => {
    expect(byType(t, 'AWS::CloudWatch::Alarm').length).toBeGreaterThan(0);
    expect(byType(t, 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
    expect(byType(t, 'AWS::SNS::Topic')).toHaveLength(1);
    const keys = byType(t, 'AWS::KMS::Key');
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(keys.every(([, k]) => k.Properties?.EnableKeyRotation === true)).toBe(true);
  });
  it('routes alarm state changes of the cluster alarms and EC2 state changes of the nodes to the triggers', () => {
    const rules = byType(t, 'AWS::Events::Rule').map(
      ([, r]) => r.Properties?.EventPattern as Record<string, Json> | undefined,
    );
    const alarm = rules.find((p) => JSON.stringify(p?.['detail-type']) === '["CloudWatch Alarm State Change"]');
    expect((alarm?.resources as Json[]).length).toBe(byType(t, 'AWS::CloudWatch::Alarm').length);
    const ec2 = rules.find((p) => JSON.stringify(p?.['detail-type']) === '["EC2 Instance State-change Notification"]');
    expect(JSON.stringify(ec2?.detail)).toContain('"Ref":"Node1Instance"');
  });
  it('has exactly the EventBridge rules of functions/triggers/event-rules.json, each invoking its function', async () => {
    const patterned = byType(t, 'AWS::Events::Rule').filter(([, r]) => r.Properties?.EventPattern !== undefined);
    const got = patterned.map(([, r]) => ({
      targets: (r.Properties?.Targets as Record<string, Json>[]).map((x) => x.Arn),
      pattern: r.Properties?.EventPattern,
    }));
    const wanted = await Promise.all(
      eventRules.rules.map(async (r) => ({
        targets: [{ 'Fn::GetAtt': [functionLogicalId(r.function), 'Arn'] }],
        pattern: await fillPattern(r.pattern),
      })),
    );
    expect(wanted.length).toBeGreaterThan(0);
    const key = (x: unknown) => JSON.stringify(x);
    expect(got.map(key).sort()).toEqual(wanted.map(key).sort());
  });
  it('watches the EC2 state of every database node, the spare node too when the stack has it', () => {
    const rule = byType(t, 'AWS::Events::Rule')
      .map(([, r]) => r.Properties?.EventPattern as Record<string, Json> | undefined)
      .find((p) => JSON.stringify(p?.['detail-type']) === '["EC2 Instance State-change Notification"]');
    const ids = (rule?.detail as Record<string, Json> | undefined)?.['instance-id'];
    // The pattern's instance ids as CloudFormation resolves them with and without the spare.
    const resolve = (v: Json | undefined, spare: boolean): Json[] => {
      if (Array.isArray(v)) return v.flatMap((x) => resolve(x, spare));
      if (isObject(v) && Array.isArray(v['Fn::If'])) {
        const [cond, a, b] = v['Fn::If'] as [string, Json, Json];
        expect(cond).toBe('HasSpareNode');
        return resolve(spare ? a : b, spare);
      }
      if (isObject(v) && v.Ref === 'AWS::NoValue') return [];
      return v === undefined ? [] : [v];
    };
    const nodes = byType(t, 'AWS::EC2::Instance').filter(([, r]) =>
      JSON.stringify(r.Properties?.Tags).includes('"pgwarden:role","Value":"node"'),
    );
    const refs = (list: [string, unknown][]) =>
      list.map(([id]) => ({ Ref: id })).sort((a, b) => a.Ref.localeCompare(b.Ref));
    const sorted = (xs: Json[]) => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(nodes.map(([id]) => id)).toContain('Node4Instance');
    expect(sorted(resolve(ids, true))).toEqual(refs(nodes));
    expect(sorted(resolve(ids, false))).toEqual(refs(nodes.filter(([, r]) => !r.Condition)));
  });
  it('schedules the probe and metrics every minute and the digest nightly', () => {
    const schedules = byType(t, 'AWS::Events::Rule')
      .map(([, r]) => r.Properties?.ScheduleExpression)
      .filter(Boolean);
    expect(schedules.filter((s) => s === 'rate(1 minute)')).toHaveLength(2);
    expect(schedules.some((s) => String(s).startsWith('cron('))).toBe(true);
  });
});

describe('workflows', () => {
  const wfs = workflows();
  it('has a Standard state machine for every statemachines/*.asl.json, with every ${...} substituted', () => {
    for (const wf of wfs) {
      const sm = t.Resources[wf.logicalId];
      expect(sm?.Type).toBe('AWS::StepFunctions::StateMachine');
      expect(Object.keys((sm.Properties?.DefinitionSubstitutions as object) ?? {}).sort()).toEqual(wf.placeholders);
    }
  });
  it.each(wfs.length ? wfs.map((w) => [w.name]) : [['(none yet)']])(
    '%s.asl.json is valid ASL once substituted',
    (name) => {
      if (name === '(none yet)') return;
      const wf = wfs.find((w) => w.name === name)!;
      const p = t.Resources[wf.logicalId].Properties!;
      const subs = (p.DefinitionSubstitutions ?? {}) as Record<string, Json>;
      let text = JSON.stringify(p.Definition);
      for (const [k, v] of Object.entries(subs)) {
        const ga = isObject(v) ? (v['Fn::GetAtt'] as string[] | undefined) : undefined;
        const fake = ga
          ? `arn:aws:lambda:eu-west-1:123456789012:function:${ga[0]}`
          : JSON.stringify(v).includes('stateMachine:')
            ? `arn:aws:states:eu-west-1:123456789012:stateMachine:${k}`
            : JSON.stringify(v).includes('NotifyTopic')
              ? 'arn:aws:sns:eu-west-1:123456789012:notify'
              : String(v);
        text = text.split(`\${${k}}`).join(fake);
      }
      const res = aslValidator(JSON.parse(text));
      expect(res.errors).toEqual([]);
      expect(res.isValid).toBe(true);
    },
  );
  it("gives every Task its Lambda's timeout (neither longer nor shorter), and no Lambda more than 900 s", () => {
    expect(taskTimeoutErrors(t)).toEqual([]);
  });
  it('reports a Task that outlives its Lambda (RewindNode 3600 s on a 900 s Lambda), one that gives up before it (SwitchPrimary 120 s on a 180 s Lambda), one without a timeout and a Lambda over 900 s', () => {
    const fn = (Timeout: number) => ({
      Type: 'AWS::Lambda::Function',
      Properties: { Timeout, Role: 'r', Code: {} },
    });
    const broken: Template = {
      Resources: {
        RejoinRewindLambdaFunction: fn(900),
        RejoinPrecheckLambdaFunction: fn(900),
        SwitchoverSwitchPrimaryLambdaFunction: fn(180),
        LogdigestLambdaFunction: fn(1800),
        RejoinStateMachine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            RoleArn: 'r',
            Definition: {
              StartAt: 'Precheck',
              States: {
                Precheck: { Type: 'Task', Resource: '${RejoinPrecheckFunctionArn}', Next: 'Switch' },
                Switch: {
                  Type: 'Task',
                  Resource: '${SwitchoverSwitchPrimaryFunctionArn}',
                  TimeoutSeconds: 120,
                  Next: 'Each',
                },
                Each: {
                  Type: 'Map',
                  Iterator: {
                    StartAt: 'RewindNode',
                    States: {
                      RewindNode: {
                        Type: 'Task',
                        Resource: '${RejoinRewindFunctionArn}',
                        TimeoutSeconds: 3600,
                        End: true,
                      },
                    },
                  },
                  End: true,
                },
              },
            },
            DefinitionSubstitutions: {
              RejoinPrecheckFunctionArn: { 'Fn::GetAtt': ['RejoinPrecheckLambdaFunction', 'Arn'] },
              RejoinRewindFunctionArn: { 'Fn::GetAtt': ['RejoinRewindLambdaFunction', 'Arn'] },
              SwitchoverSwitchPrimaryFunctionArn: { 'Fn::GetAtt': ['SwitchoverSwitchPrimaryLambdaFunction', 'Arn'] },
            },
          },
        },
      },
    };
    expect(taskTimeoutErrors(broken)).toEqual([
      expect.stringContaining("LogdigestLambdaFunction: Timeout 1800 s is over Lambda's maximum of 900 s"),
      expect.stringContaining('RejoinStateMachine.Precheck: no TimeoutSeconds'),
      expect.stringContaining(
        "RejoinStateMachine.Switch: TimeoutSeconds 120 is shorter than its Lambda SwitchoverSwitchPrimaryLambdaFunction's Timeout 180 s",
      ),
      expect.stringContaining(
        "RejoinStateMachine.Each.Iterator.RewindNode: TimeoutSeconds 3600 is longer than its Lambda RejoinRewindLambdaFunction's Timeout 900 s",
      ),
    ]);
  });
  it('every Task Lambda of the ASL files is in the stack', () => {
    for (const wf of wfs) {
      for (const p of wf.placeholders.filter((x) => x.endsWith('FunctionArn'))) {
        const id = `${p.slice(0, -'FunctionArn'.length)}LambdaFunction`;
        expect(t.Resources[id]?.Type).toBe('AWS::Lambda::Function');
      }
    }
  });
});

describe('the rehearsal of the step Lambdas (issue 15 item 5)', () => {
  it('rehearses exactly the Lambdas the state machines invoke, on a schedule, with a role that may invoke exactly those', () => {
    expect(rehearsalErrors(t)).toEqual([]);
    // Sanity: the derivation from the state machines found every step, not an empty set.
    expect(taskLambdas(t).size).toBe(stepFunctions().length);
    expect(taskLambdas(t).size).toBeGreaterThan(30);
  });
  it('runs weekly unless the stack parameter RehearsalSchedule says otherwise', () => {
    const [[id]] = rehearsalLambdas(t);
    expect(id).toBe('RehearsalLambdaFunction');
    expect(REHEARSAL_SCHEDULE_DEFAULT).toBe('rate(7 days)');
    expect(t.Parameters?.RehearsalSchedule).toMatchObject({ Type: 'String', Default: 'rate(7 days)' });
    expect(serverlessConfig().params?.default?.rehearsalSchedule).toBe('rate(7 days)');
    const rule = byType(t, 'AWS::Events::Rule').find(([, r]) =>
      JSON.stringify(r.Properties?.Targets).includes(`{"Fn::GetAtt":["${id}","Arn"]}`),
    );
    expect(rule?.[1].Properties?.ScheduleExpression).toEqual({ Ref: 'RehearsalSchedule' });
  });
  it('fails on a broken fragment: a step not rehearsed, a rehearsed function no Task invokes, no schedule, a role that may invoke the wrong ones', () => {
    const fn = (name: string, extra: Record<string, Json> = {}): Resource => ({
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: name, Role: 'r', Code: {}, ...extra },
    });
    const lambdaArn = (name: string) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${name}`,
    });
    const broken: Template = {
      Resources: {
        AssessLambdaFunction: fn('c-dev-assess'),
        PromoteLambdaFunction: fn('c-dev-promote'),
        ProbeLambdaFunction: fn('c-dev-probe'),
        RehearsalLambdaFunction: fn('c-dev-rehearsal', {
          Role: { 'Fn::GetAtt': ['RehearsalRole', 'Arn'] },
          Environment: {
            Variables: { PGWARDEN_REHEARSAL_FUNCTIONS: '{"prefix":"c-dev-","functions":["assess","probe"]}' },
          },
        }),
        RehearsalRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: {},
            Policies: [
              {
                PolicyName: 'p',
                PolicyDocument: {
                  Statement: [
                    {
                      Effect: 'Allow',
                      Action: ['lambda:InvokeFunction'],
                      Resource: [lambdaArn('c-dev-assess'), lambdaArn('c-dev-probe')],
                    },
                  ],
                },
              },
            ],
          },
        },
        FailoverStateMachine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            RoleArn: 'r',
            Definition: {
              StartAt: 'Assess',
              States: {
                Assess: { Type: 'Task', Resource: '${A}', Next: 'Promote' },
                Promote: {
                  Type: 'Task',
                  Resource: 'arn:aws:states:::lambda:invoke',
                  Parameters: { FunctionName: '${P}' },
                  End: true,
                },
              },
            },
            DefinitionSubstitutions: {
              A: { 'Fn::GetAtt': ['AssessLambdaFunction', 'Arn'] },
              P: { 'Fn::GetAtt': ['PromoteLambdaFunction', 'Arn'] },
            },
          },
        },
      },
    };
    expect(rehearsalErrors(broken)).toEqual([
      'c-dev-promote (invoked by FailoverStateMachine.Promote) is not rehearsed by RehearsalLambdaFunction',
      'RehearsalLambdaFunction rehearses c-dev-probe, which no state machine Task invokes',
      'no enabled schedule rule targets RehearsalLambdaFunction',
      'RehearsalRole: may not invoke c-dev-promote, which it must rehearse',
      'RehearsalRole: may invoke c-dev-probe, which is no workflow step',
    ]);
    delete broken.Resources.RehearsalLambdaFunction;
    expect(rehearsalErrors(broken)).toEqual([
      expect.stringContaining('expected one Lambda with PGWARDEN_REHEARSAL_FUNCTIONS, found 0'),
    ]);
  });
  it('every rehearsed Lambda answers the rehearsal input: its handler is built by lambda()', () => {
    expect(handlersWithoutRehearsal(t)).toEqual([]);
    const broken: Template = {
      Resources: {
        M: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'functions/metrics/handler.handler' } },
        S: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            Definition: { StartAt: 'X', States: { X: { Type: 'Task', Resource: '${M}', End: true } } },
            DefinitionSubstitutions: { M: { 'Fn::GetAtt': ['M', 'Arn'] } },
          },
        },
      },
    };
    expect(handlersWithoutRehearsal(broken)).toEqual([
      expect.stringContaining('M (functions/metrics/handler.handler)'),
    ]);
  });
  it('alarms on a failed rehearsal and on the rehearsal Lambda’s own errors, notifying the topic', () => {
    const failed = t.Resources.RehearsalFailedAlarm.Properties!;
    expect(failed).toMatchObject({
      Namespace: 'pgwarden',
      MetricName: 'RehearsalFailures',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      TreatMissingData: 'ignore',
      AlarmActions: [{ Ref: 'NotifyTopic' }],
    });
    const errors = t.Resources.RehearsalErrorsAlarm.Properties!;
    expect(errors).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: t.Resources.RehearsalLambdaFunction.Properties?.FunctionName }],
      AlarmActions: [{ Ref: 'NotifyTopic' }],
    });
  });
  it("keeps the rehearsal Lambda's environment within Lambda's 4 KB, with each ARN the stack fills in counted at 128 characters", () => {
    // The step list grows with the number of steps (their names share one prefix: functions/lib/env.ts).
    const estimate = (v: Json): number => {
      if (typeof v === 'string') return v.length;
      if (Array.isArray(v)) return v.reduce((n: number, x) => n + estimate(x), 0);
      if (!isObject(v)) return JSON.stringify(v).length;
      if ('Ref' in v || 'Fn::GetAtt' in v) return 128;
      if (Array.isArray(v['Fn::Join'])) {
        const [sep, parts] = v['Fn::Join'] as [string, Json[]];
        return estimate(parts) + sep.length * Math.max(0, parts.length - 1);
      }
      const sub = v['Fn::Sub'];
      const text = Array.isArray(sub) ? String(sub[0]) : String(sub);
      return text.replace(/\$\{[^}]+\}/g, 'x'.repeat(32)).length;
    };
    const vars = (t.Resources.RehearsalLambdaFunction.Properties?.Environment as { Variables: Record<string, Json> })
      .Variables;
    const size = Object.entries(vars).reduce((n, [k, v]) => n + k.length + estimate(v), 0);
    expect(size).toBeGreaterThan(2000);
    expect(size).toBeLessThan(4096 - 512);
  });
  it('grants the rehearsal what its code calls: invoke, metrics, notification', () => {
    expect(derivedActions('functions/rehearsal/handler.handler')).toEqual([
      'cloudwatch:PutMetricData',
      'lambda:InvokeFunction',
      'sns:Publish',
    ]);
  });
});

describe('serverless.yml stays generated', () => {
  it('names no workflow step by hand', () => {
    const yml = fs.readFileSync(path.join(ROOT, 'serverless.yml'), 'utf8');
    expect(yml).not.toMatch(/handler: functions\/failover\//);
  });
});

describe('the app (issue 11)', () => {
  const fn = () => t.Resources.AppLambdaFunction;
  const statements = () =>
    ((t.Resources.AppFunctionRole.Properties?.Policies as Json[])[0] as { PolicyDocument: { Statement: Json[] } })
      .PolicyDocument.Statement as Record<string, Json>[];
  it('is a Lambda (app/lambda.handler) in the private subnets with its own security group and its own role', () => {
    const p = fn().Properties!;
    expect(p.Handler).toBe('app/lambda.handler');
    expect(p.Role).toEqual({ 'Fn::GetAtt': ['AppFunctionRole', 'Arn'] });
    const vpc = p.VpcConfig as Record<string, Json>;
    expect(vpc.SecurityGroupIds).toEqual([{ Ref: 'AppSecurityGroup' }]);
    expect(vpc.SubnetIds).toEqual([{ Ref: 'PrivateSubnetA' }, { Ref: 'PrivateSubnetB' }, { Ref: 'PrivateSubnetC' }]);
    // No other function shares the app's role.
    const others = byType(t, 'AWS::Lambda::Function').filter(
      ([id, r]) => id !== 'AppLambdaFunction' && JSON.stringify(r.Properties?.Role).includes('AppFunctionRole'),
    );
    expect(others).toEqual([]);
  });
  it('reaches pgpool through its NLB and ElastiCache through its primary endpoint, credentials from Secrets Manager', () => {
    const env = (fn().Properties!.Environment as { Variables: Record<string, Json> }).Variables;
    expect(env.PGWARDEN_APP_DB_HOST).toEqual({ 'Fn::GetAtt': ['PgpoolNlb', 'DNSName'] });
    expect(env.PGWARDEN_APP_DB_SECRET_ARN).toEqual({ Ref: 'AppSecret' });
    // pgpool admits TLS only; the app verifies its certificate against the cluster CA's certificate,
    // and may read that certificate but never the CA's key.
    expect(env.PGWARDEN_APP_DB_CA_SECRET_ARN).toEqual({ Ref: 'TlsCaCertSecret' });
    expect(env.PGWARDEN_APP_DB_TLS).toBeUndefined();
    const readable = statements()
      .filter((st) => JSON.stringify(st.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((st) => st.Resource as Json[]);
    expect(readable).toEqual(
      expect.arrayContaining([{ Ref: 'AppSecret' }, { Ref: 'RedisAuthSecret' }, { Ref: 'TlsCaCertSecret' }]),
    );
    expect(readable).not.toContainEqual({ Ref: 'TlsCaSecret' });
    expect(env.PGWARDEN_APP_REDIS_HOST).toEqual({ 'Fn::GetAtt': ['Redis', 'PrimaryEndPoint.Address'] });
    expect(env.PGWARDEN_APP_REDIS_AUTH_SECRET_ARN).toEqual({ Ref: 'RedisAuthSecret' });
    expect(JSON.stringify(env)).not.toMatch(/password|token=/i);
    // Its security group lets it out to exactly those two, and to the VPC endpoints.
    const egress = byType(t, 'AWS::EC2::SecurityGroupEgress')
      .filter(([, r]) => JSON.stringify(r.Properties?.GroupId) === '{"Ref":"AppSecurityGroup"}')
      .map(([, r]) => [r.Properties?.DestinationSecurityGroupId, r.Properties?.FromPort]);
    expect(egress).toEqual(
      expect.arrayContaining([
        [{ Ref: 'PgpoolNlbSecurityGroup' }, 9999],
        [{ Ref: 'RedisSecurityGroup' }, 6379],
      ]),
    );
  });
  it('is the ALB target: the HTTPS listener forwards to a Lambda target group holding the function, which the ALB may invoke', () => {
    const tg = t.Resources.AppTargetGroup;
    expect(tg.Properties).toMatchObject({
      TargetType: 'lambda',
      Targets: [{ Id: { 'Fn::GetAtt': ['AppLambdaFunction', 'Arn'] } }],
      HealthCheckPath: '/healthz',
    });
    expect([tg.DependsOn].flat()).toEqual(['AppAlbInvokePermission']);
    expect(JSON.stringify(t.Resources.AppHttpsListener.Properties?.DefaultActions)).toContain(
      '{"Ref":"AppTargetGroup"}',
    );
    const perm = t.Resources.AppAlbInvokePermission.Properties!;
    expect(perm.Principal).toBe('elasticloadbalancing.amazonaws.com');
    expect(perm.FunctionName).toEqual({ 'Fn::GetAtt': ['AppLambdaFunction', 'Arn'] });
    expect(JSON.stringify(perm.SourceArn)).toContain(`targetgroup/${tg.Properties?.Name}/*`);
  });
  it('keeps the operator dashboard closed unless DashboardAllowedCidr is set, then open to that block only (the ALB rules and the app both)', () => {
    const { inCidr, parseCidr } = require('../../app/dashboard/access') as typeof import('../../app/dashboard/access');
    // What the HTTPS listener does with a request, the stack deployed with the given parameter value.
    const route = (allowed: string, path: string, source: string): string => {
      const cond = (name: string): boolean => {
        const c = JSON.stringify(t.Conditions?.[name]);
        expect(c).toBe('{"Fn::Not":[{"Fn::Equals":[{"Ref":"DashboardAllowedCidr"},""]}]}');
        return allowed !== '';
      };
      const glob = (g: string) => new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      const rules = byType(t, 'AWS::ElasticLoadBalancingV2::ListenerRule')
        .filter(([, r]) => JSON.stringify(r.Properties?.ListenerArn) === '{"Ref":"AppHttpsListener"}')
        .filter(([, r]) => !r.Condition || cond(r.Condition as string))
        .sort(([, a], [, b]) => Number(a.Properties?.Priority) - Number(b.Properties?.Priority));
      for (const [id, r] of rules) {
        const matches = asArray(r.Properties?.Conditions).every((c) => {
          const x = c as {
            Field: string;
            PathPatternConfig?: { Values: string[] };
            SourceIpConfig?: { Values: Json[] };
          };
          if (x.Field === 'path-pattern') return x.PathPatternConfig!.Values.some((v) => glob(v).test(path));
          if (x.Field === 'source-ip')
            return x.SourceIpConfig!.Values.some((v) => {
              expect(v).toEqual({ Ref: 'DashboardAllowedCidr' });
              return inCidr(source, parseCidr(allowed) as { base: number; bits: number });
            });
          throw new Error(`${id}: condition ${x.Field} not understood by this test`);
        });
        if (matches) {
          const a = asArray(r.Properties?.Actions)[0] as { Type: string; FixedResponseConfig?: { StatusCode: string } };
          return a.Type === 'forward' ? 'app' : `fixed ${a.FixedResponseConfig?.StatusCode}`;
        }
      }
      return JSON.stringify(t.Resources.AppHttpsListener.Properties?.DefaultActions).includes('AppTargetGroup')
        ? 'app'
        : 'other';
    };
    const param = t.Parameters?.DashboardAllowedCidr as { Type: string; Default: string; AllowedPattern: string };
    expect(param).toMatchObject({ Type: 'String', Default: '' });
    const pattern = new RegExp(param.AllowedPattern);
    for (const ok of ['', '203.0.113.0/24', '10.0.0.1/32']) expect(pattern.test(ok)).toBe(true);
    for (const bad of ['0.0.0.0', '10.0.0.0/33', '2001:db8::/32', ' 10.0.0.0/8']) expect(pattern.test(bad)).toBe(false);
    // Closed by default: the dashboard is refused to everyone, the app's API is not.
    for (const path of ['/dashboard', '/dashboard/api/status', '/dashboard/client.js'])
      expect(route('', path, '203.0.113.9')).toBe('fixed 403');
    expect(route('', '/api/values/1', '203.0.113.9')).toBe('app');
    expect(route('', '/healthz', '198.51.100.1')).toBe('app');
    // Open to one block: forwarded from inside it, refused outside it.
    expect(route('203.0.113.0/24', '/dashboard/api/status', '203.0.113.9')).toBe('app');
    expect(route('203.0.113.0/24', '/dashboard/api/status', '198.51.100.1')).toBe('fixed 403');
    // The app is given the same block and checks it itself (app/dashboard/access.ts).
    const env = (fn().Properties!.Environment as { Variables: Record<string, Json> }).Variables;
    expect(env.PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR).toEqual({ Ref: 'DashboardAllowedCidr' });
  });
  it('has a least-privilege role: logs of its own group, VPC interfaces, X-Ray, its three secrets (password, Redis token, CA certificate), KMS decrypt via Secrets Manager, and the dashboard reads', () => {
    const actions = statements()
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
      .sort();
    expect(actions).toEqual(
      [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:UnassignPrivateIpAddresses',
        'kms:Decrypt',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:GetSecretValue',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        // The dashboard, read-only.
        'dynamodb:GetItem',
        'states:ListExecutions',
        'states:DescribeExecution',
        'states:GetExecutionHistory',
        'cloudwatch:GetMetricData',
        'cloudwatch:DescribeAlarms',
        'xray:GetTraceSummaries',
        'xray:BatchGetTraces',
        's3:ListBucket',
        's3:GetObject',
        'kms:Decrypt',
      ].sort(),
    );
    const bySid = Object.fromEntries(statements().map((s) => [s.Sid as string, s]));
    expect(bySid.AppSecrets.Resource).toEqual([
      { Ref: 'AppSecret' },
      { Ref: 'RedisAuthSecret' },
      { Ref: 'TlsCaCertSecret' },
    ]);
    expect(JSON.stringify(bySid.OwnLogGroup.Resource)).toMatch(
      /log-group:\/aws\/lambda\/pgwarden-[a-z]+-[a-z]+-app:\*/,
    );
    expect(bySid.DecryptSecretsOnly.Condition).toBeDefined();
    expect(statements().every((s) => s.Effect === 'Allow' && !JSON.stringify(s.Action).includes('*'))).toBe(true);
  });
  it('names the dashboard its data sources: the cluster, the topology table, the state machines, the digest bucket and prefix', () => {
    const env = (fn().Properties!.Environment as { Variables: Record<string, Json> }).Variables;
    const cluster = String(env.PGWARDEN_CLUSTER);
    expect(env.PGWARDEN_APP_DASHBOARD_CLUSTER).toBe(cluster);
    expect(env.PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE).toEqual({ Ref: 'TopologyTable' });
    expect(env.PGWARDEN_APP_DASHBOARD_DIGEST_BUCKET).toEqual({ Ref: 'DigestBucket' });
    // The digest Lambda's key layout (functions/logdigest: DIGEST_KEY_PREFIX default digests/<cluster>/).
    expect(env.PGWARDEN_APP_DASHBOARD_DIGEST_PREFIX).toBe(`digests/${cluster}/`);
    expect(t.Resources.LogdigestLambdaFunction.Properties?.Environment).not.toHaveProperty(
      'Variables.DIGEST_KEY_PREFIX',
    );
    // The Lambdas' own map (provider environment), the ARNs of every workflow of the cluster.
    expect(env.PGWARDEN_APP_DASHBOARD_STATE_MACHINE_ARNS).toEqual(env.PGWARDEN_STATE_MACHINE_ARNS);
    // The app reads that configuration as the dashboard's (it requires every one of them).
    const { readAppConfig } = require('../../app/config') as typeof import('../../app/config');
    const plain = Object.fromEntries(
      Object.entries(env)
        .filter(([k]) => k.startsWith('PGWARDEN_APP_DASHBOARD_'))
        .map(([k, v]) => [k, typeof v === 'string' ? v : `${k}-value`]),
    );
    const sm = `arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-${cluster}-failover`;
    expect(
      readAppConfig({
        ...plain,
        PGWARDEN_APP_DATABASE_URL: 'postgresql://app@pgpool:9999/app',
        PGWARDEN_APP_DASHBOARD_STATE_MACHINE_ARNS: JSON.stringify({ failover: sm }),
        PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR: '203.0.113.0/24',
      }).awsDashboard,
    ).toEqual({
      cluster,
      allowedCidr: { base: 0xcb007100, bits: 24 },
      topologyTable: 'PGWARDEN_APP_DASHBOARD_TOPOLOGY_TABLE-value',
      stateMachineArns: { failover: sm },
      digestBucket: 'PGWARDEN_APP_DASHBOARD_DIGEST_BUCKET-value',
      digestPrefix: `digests/${cluster}/`,
      traceFilter: undefined,
    });
  });
  it("grants the dashboard exactly its reads, each on the cluster's own resources where IAM allows a scope", () => {
    const bySid = Object.fromEntries(statements().map((s) => [s.Sid as string, s]));
    const dashboard = statements().filter((s) => String(s.Sid).startsWith('Dashboard'));
    expect(dashboard.map((s) => [s.Sid, [s.Action].flat()])).toEqual([
      ['DashboardTopology', ['dynamodb:GetItem']],
      ['DashboardExecutionLists', ['states:ListExecutions']],
      ['DashboardExecutions', ['states:DescribeExecution', 'states:GetExecutionHistory']],
      ['DashboardMetrics', ['cloudwatch:GetMetricData']],
      ['DashboardAlarms', ['cloudwatch:DescribeAlarms']],
      ['DashboardTraces', ['xray:GetTraceSummaries', 'xray:BatchGetTraces']],
      ['DashboardDigestList', ['s3:ListBucket']],
      ['DashboardDigestRead', ['s3:GetObject']],
      ['DashboardDecrypt', ['kms:Decrypt']],
    ]);
    const cluster = String(
      (fn().Properties!.Environment as { Variables: Record<string, Json> }).Variables.PGWARDEN_CLUSTER,
    );
    expect(bySid.DashboardTopology.Resource).toEqual({ 'Fn::GetAtt': ['TopologyTable', 'Arn'] });
    const machines = asArray(bySid.DashboardExecutionLists.Resource).map((r) => JSON.stringify(r));
    expect(machines).toHaveLength(workflows().length);
    for (const w of workflows())
      expect(machines).toContainEqual(expect.stringContaining(`:stateMachine:pgwarden-${cluster}-${w.name}"`));
    const executions = asArray(bySid.DashboardExecutions.Resource).map((r) => JSON.stringify(r));
    expect(executions).toHaveLength(workflows().length);
    for (const w of workflows())
      expect(executions).toContainEqual(expect.stringContaining(`:execution:pgwarden-${cluster}-${w.name}:*"`));
    expect(JSON.stringify(bySid.DashboardAlarms.Resource)).toContain(`:alarm:pgwarden-${cluster}-*`);
    // No resource-level permissions exist for these two.
    expect(bySid.DashboardMetrics.Resource).toBe('*');
    expect(bySid.DashboardTraces.Resource).toBe('*');
    expect(bySid.DashboardDigestList.Resource).toEqual({ 'Fn::GetAtt': ['DigestBucket', 'Arn'] });
    expect(bySid.DashboardDigestList.Condition).toEqual({ StringLike: { 's3:prefix': `digests/${cluster}/*` } });
    expect(bySid.DashboardDigestRead.Resource).toEqual({ 'Fn::Sub': `\${DigestBucket.Arn}/digests/${cluster}/*` });
    expect(bySid.DashboardDecrypt.Resource).toEqual({ 'Fn::GetAtt': ['DataKey', 'Arn'] });
    expect(JSON.stringify(bySid.DashboardDecrypt.Condition)).toMatch(
      /dynamodb\.\$\{AWS::Region\}.*s3\.\$\{AWS::Region\}/,
    );
    // What the app's code calls is what its role grants (the derived table, test/aws/iam.ts).
    expect(derivedActions('app/lambda.handler')).toEqual(
      [
        'cloudwatch:DescribeAlarms',
        'cloudwatch:GetMetricData',
        'dynamodb:GetItem',
        's3:GetObject',
        's3:ListBucket',
        'secretsmanager:GetSecretValue',
        'states:DescribeExecution',
        'states:GetExecutionHistory',
        'states:ListExecutions',
        'xray:BatchGetTraces',
        'xray:GetTraceSummaries',
      ].sort(),
    );
  });
});

describe('a deploy keeps the data', () => {
  it('knows the stateful resources: instances, data volumes, secrets, keys, the topology table, the digest bucket', () => {
    const ids = statefulResources(t);
    for (const n of [1, 2, 3, 4])
      expect(ids).toEqual(expect.arrayContaining([`Node${n}Instance`, `Node${n}DataVolume`]));
    expect(ids).toEqual(
      expect.arrayContaining([
        'Pgpool1Instance',
        'Pgpool2Instance',
        'PostgresSecret',
        'RedisAuthSecret',
        'DataKey',
        'SecretsKey',
        'TopologyTable',
        'DigestBucket',
      ]),
    );
    expect(ids).not.toContain('ServerlessDeploymentBucket');
  });
  it('follows parameters into the stack: the image reaches the launch templates, the size the volumes, in place', () => {
    const a = dependencyAnalysis(t);
    const prop = (id: string, p: string) => a.properties(id).find((x) => x.property === p);
    expect(prop('Node1LaunchTemplate', 'LaunchTemplateData')).toMatchObject({ updateType: 'Mutable' });
    expect(prop('Node1LaunchTemplate', 'LaunchTemplateData')?.parameters).toEqual(
      expect.arrayContaining(['NodeImageId', 'NodeInstanceType', 'WalSegmentSizeMB', 'VpcCidr']),
    );
    expect(prop('Pgpool1LaunchTemplate', 'LaunchTemplateData')?.parameters).toContain('PgpoolPackageS3Uri');
    expect(prop('Node1DataVolume', 'Size')).toEqual({
      property: 'Size',
      updateType: 'Mutable',
      parameters: ['DataVolumeSizeGiB'],
    });
    // The instance pins version 1 of its own template: nothing a parameter changes reaches it.
    expect(prop('Node1Instance', 'LaunchTemplate')).toEqual({
      property: 'LaunchTemplate',
      updateType: 'Immutable',
      parameters: [],
    });
    // The subnets do move with VpcCidr: had the instance named its subnet itself, it would be replaced.
    expect([...a.replacedBy('PrivateSubnetA')]).toEqual(['VpcCidr']);
  });
  it('no change of a stack parameter or of the image replaces a stateful resource', () => {
    expect(statefulNotReplacedByParameters(t)).toEqual([]);
  });
  it('every stateful resource is retained on deletion and on replacement', () => {
    expect(statefulRetained(t)).toEqual([]);
  });

  const lt = (data: Json): Resource => ({ Type: 'AWS::EC2::LaunchTemplate', Properties: { LaunchTemplateData: data } });
  const P = { NodeImageId: { Type: 'AWS::EC2::Image::Id' }, VpcCidr: { Type: 'String' }, Prefix: { Type: 'String' } };
  const kept = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
  it.each([
    [
      'an instance that takes its image from a parameter',
      { I: { Type: 'AWS::EC2::Instance', ...kept, Properties: { ImageId: { Ref: 'NodeImageId' } } } },
      'I.ImageId (Immutable',
    ],
    [
      'an instance that follows LatestVersionNumber of a template holding the image (GetAtt)',
      {
        Lt: lt({ ImageId: { Ref: 'NodeImageId' } }),
        I: {
          Type: 'AWS::EC2::Instance',
          ...kept,
          Properties: {
            LaunchTemplate: {
              LaunchTemplateId: { Ref: 'Lt' },
              Version: { 'Fn::GetAtt': ['Lt', 'LatestVersionNumber'] },
            },
          },
        },
      },
      'I.LaunchTemplate (Immutable: a change replaces I) changes with parameter NodeImageId',
    ],
    [
      'an instance in a subnet carved from a parameter (Ref -> Fn::Select/Fn::Cidr)',
      {
        S: {
          Type: 'AWS::EC2::Subnet',
          Properties: { VpcId: 'vpc-1', CidrBlock: { 'Fn::Select': [0, { 'Fn::Cidr': [{ Ref: 'VpcCidr' }, 6, 12] }] } },
        },
        I: { Type: 'AWS::EC2::Instance', ...kept, Properties: { SubnetId: { Ref: 'S' } } },
      },
      'I.SubnetId (Immutable: a change replaces I) changes with parameter VpcCidr',
    ],
    [
      'a secret named through Fn::Sub',
      { S: { Type: 'AWS::SecretsManager::Secret', ...kept, Properties: { Name: { 'Fn::Sub': '${Prefix}/db' } } } },
      'S.Name (Immutable',
    ],
    [
      'a table named through Fn::If on a condition over a parameter',
      {
        T: {
          Type: 'AWS::DynamoDB::Table',
          ...kept,
          Properties: { KeySchema: [], TableName: { 'Fn::If': ['IsProd', 'a', 'b'] } },
        },
      },
      'T.TableName (Immutable: a change replaces T) changes with parameter Prefix',
    ],
    [
      'a bucket named through Fn::FindInMap keyed by a parameter',
      {
        B: {
          Type: 'AWS::S3::Bucket',
          ...kept,
          Properties: { BucketName: { 'Fn::FindInMap': ['Names', { Ref: 'Prefix' }, 'bucket'] } },
        },
      },
      'B.BucketName (Immutable',
    ],
  ])('fails on %s', (_name, resources, message) => {
    const broken = {
      Parameters: P,
      Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Prefix' }, 'prod'] } },
      Resources: resources as Record<string, Resource>,
    } as Template;
    expect(statefulNotReplacedByParameters(broken)).toEqual([expect.stringContaining(message)]);
  });
  it('fails on a stateful resource that is deleted with the stack or on replacement', () => {
    const broken: Template = {
      Resources: {
        K: { Type: 'AWS::KMS::Key', Properties: {} },
        V: { Type: 'AWS::EC2::Volume', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Delete', Properties: {} },
        B: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Retain' },
      },
    };
    expect(statefulRetained(broken)).toEqual([
      expect.stringContaining('B: DeletionPolicy is "Snapshot"'),
      expect.stringContaining('K: DeletionPolicy is "(unset: Delete)"'),
      expect.stringContaining('K: UpdateReplacePolicy'),
      expect.stringContaining('V: UpdateReplacePolicy is "Delete"'),
    ]);
  });
  it("keeps the data on a volume of its own per node, attached to it, in its subnet's AZ", () => {
    for (const n of [1, 2, 3, 4]) {
      const att = t.Resources[`Node${n}DataVolumeAttachment`].Properties;
      expect(att).toEqual({
        Device: '/dev/sdf',
        InstanceId: { Ref: `Node${n}Instance` },
        VolumeId: { Ref: `Node${n}DataVolume` },
      });
      const vol = t.Resources[`Node${n}DataVolume`].Properties!;
      const subnet = (
        t.Resources[`Node${n}LaunchTemplate`].Properties!.LaunchTemplateData as {
          NetworkInterfaces: { SubnetId: { Ref: string } }[];
        }
      ).NetworkInterfaces[0].SubnetId.Ref;
      expect(vol.AvailabilityZone).toEqual(t.Resources[subnet].Properties?.AvailabilityZone);
      // The root volume in the launch template is the only one deleted with the instance.
      const bdms = (
        t.Resources[`Node${n}LaunchTemplate`].Properties!.LaunchTemplateData as { BlockDeviceMappings: Json[] }
      ).BlockDeviceMappings;
      expect(bdms).toHaveLength(1);
    }
  });
  it('writes the topology once: a custom resource seeds the table, no deploy property holds the live document', () => {
    expect(byType(t, 'AWS::SSM::Parameter').map(([, r]) => r.Properties?.Name)).not.toContain(
      '/pgwarden/main/topology',
    );
    const table = t.Resources.TopologyTable;
    expect(table.Properties).toMatchObject({
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': ['DataKey', 'Arn'] } },
      KeySchema: [{ AttributeName: 'cluster', KeyType: 'HASH' }],
    });
    expect(t.Resources.TopologySeed).toMatchObject({
      Type: 'Custom::TopologySeed',
      Properties: { ServiceToken: { 'Fn::GetAtt': ['TopologySeedLambdaFunction', 'Arn'] } },
    });
    expect(t.Resources.TopologySeedLambdaFunction.Properties?.Handler).toBe('functions/topology/seed.handler');
  });
});

describe('deploy-time parameters and bootstrap', () => {
  it('every stack parameter has a deploy-time path (serverless.yml params + stackParameters)', () => {
    expect(parametersWithoutDeployPath(t, serverlessConfig())).toEqual([]);
  });
  it('fails on a parameter serverless.yml does not pass, one passed as a constant, and one without a default', () => {
    const broken: Template = {
      Parameters: { A: { Type: 'String' }, B: { Type: 'String' }, C: { Type: 'String' } },
      Resources: {},
    };
    const sls = {
      params: { default: { b: 'x' } },
      provider: {
        stackParameters: [
          { ParameterKey: 'B', ParameterValue: 'fixed' },
          { ParameterKey: 'C', ParameterValue: '${param:c}' },
          { ParameterKey: 'D', ParameterValue: '${param:b}' },
        ],
      },
    };
    expect(parametersWithoutDeployPath(broken, sls)).toEqual([
      expect.stringContaining('Parameter A: not in provider.stackParameters'),
      expect.stringContaining('Parameter B: passed as "fixed"'),
      expect.stringContaining('Parameter C: params.default has no c'),
      expect.stringContaining('passes D, which the template does not declare'),
    ]);
  });
  it('requires the pgpool-II package and the pinned image at deploy time (no default CloudFormation could fall back to)', () => {
    expect(t.Parameters?.PgpoolPackageS3Uri).toMatchObject({ AllowedPattern: '^s3://[a-z0-9.-]+/.+$' });
    expect(t.Parameters?.PgpoolPackageS3Uri).not.toHaveProperty('Default');
    expect(t.Parameters?.NodeImageId).not.toHaveProperty('Default');
  });
  it('makes a pgpool instance complete only when its bootstrap signals success, and a failed bootstrap say so', () => {
    for (const p of ['Pgpool1', 'Pgpool2']) {
      expect(t.Resources[`${p}Instance`].CreationPolicy).toEqual({ ResourceSignal: { Count: 1, Timeout: 'PT30M' } });
      const ud = JSON.stringify(
        (t.Resources[`${p}LaunchTemplate`].Properties?.LaunchTemplateData as Record<string, Json>).UserData,
      );
      expect(ud).toContain('trap bootstrap_done EXIT');
      expect(ud).toContain('aws cloudformation signal-resource');
      expect(ud).toContain(`"SignalResource":"${p}Instance"`);
      expect(ud).toContain('no pgpool-II package');
      expect(ud).toContain('4.5 or later is needed');
    }
    // CloudFormation, SNS and the role's rights to reach them from a private subnet.
    expect(REQUIRED_ENDPOINTS).toContain('cloudformation');
    const pgpoolRole = JSON.stringify(t.Resources.PgpoolRole.Properties?.Policies);
    expect(pgpoolRole).toContain('cloudformation:SignalResource');
    expect(pgpoolRole).toContain('sns:Publish');
  });
});

describe('PCP (pgpool-II has no TLS for it) never leaves its host', () => {
  it('no security group rule admits port 9898; pgpool binds PCP to loopback', () => {
    // ('-1' to 127.0.0.1/32 is how a group says "no egress": it admits nothing.)
    const covers = (p: Record<string, Json>) =>
      p.CidrIp !== '127.0.0.1/32' &&
      (p.IpProtocol === '-1' || (Number(p.FromPort) <= 9898 && 9898 <= Number(p.ToPort)));
    const rules = Object.entries(t.Resources).flatMap(([id, r]) => {
      const props = (r.Properties ?? {}) as Record<string, Json>;
      if (r.Type === 'AWS::EC2::SecurityGroupIngress' || r.Type === 'AWS::EC2::SecurityGroupEgress')
        return [[id, props] as const];
      if (r.Type !== 'AWS::EC2::SecurityGroup') return [];
      return [...((props.SecurityGroupIngress ?? []) as Json[]), ...((props.SecurityGroupEgress ?? []) as Json[])].map(
        (x) => [id, x as Record<string, Json>] as const,
      );
    });
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter(([, p]) => covers(p)).map(([id]) => id)).toEqual([]);
    const conf = fs.readFileSync(path.join(__dirname, '..', '..', 'infra', 'node', 'configure-pgpool.sh'), 'utf8');
    expect(conf).toMatch(/^pcp_listen_addresses = '127\.0\.0\.1'$/m);
  });
});

describe('secrets on the pgpool hosts', () => {
  it("PCP has a secret of its own; neither the postgres superuser's nor the automation role's secret is readable by or fetched on a pgpool host", () => {
    expect(t.Resources.PcpSecret).toMatchObject({ Type: 'AWS::SecretsManager::Secret', DeletionPolicy: 'Retain' });
    const readable = JSON.stringify(
      identityStatements({ Resources: { PgpoolRole: t.Resources.PgpoolRole } })
        .filter(({ s }) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue'))
        .map(({ s }) => s.Resource),
    );
    expect(readable).toContain('"Ref":"PcpSecret"');
    expect(readable).not.toContain('PostgresSecret');
    expect(readable).not.toContain('DbSecret');
    for (const p of ['Pgpool1', 'Pgpool2']) {
      const ud = JSON.stringify(
        (t.Resources[`${p}LaunchTemplate`].Properties?.LaunchTemplateData as Record<string, Json>).UserData,
      );
      expect(ud).toContain('PGW_PW_PCP=$(secret_field ${PcpSecret} password)');
      expect(ud).not.toContain('PostgresSecret');
      expect(ud).not.toContain('DbSecret');
    }
  });
});

describe('TLS in AWS', () => {
  const userDataOf = (lt: string) =>
    JSON.stringify((t.Resources[lt].Properties?.LaunchTemplateData as Record<string, Json>).UserData);
  it('every node and pgpool sets up its certificate from the cluster CA and serves TLS only', () => {
    for (const lt of ['Node1LaunchTemplate', 'Node2LaunchTemplate', 'Pgpool1LaunchTemplate']) {
      const ud = userDataOf(lt);
      expect(ud).toContain('tls_setup ');
      for (const v of [
        'PGW_SSL_CERT=/etc/pgwarden/tls/server.crt',
        'PGW_SSL_KEY=',
        'PGW_SSL_CA=/etc/pgwarden/tls/ca.crt',
      ])
        expect({ lt, has: ud.includes(v) }).toEqual({ lt, has: true });
    }
    // pgpool's certificate names the NLB, which clients connect to by name.
    expect(userDataOf('Pgpool1LaunchTemplate')).toContain('"PgpoolNlbDns":{"Fn::GetAtt":["PgpoolNlb","DNSName"]}');
  });
  it("the Lambdas verify with the CA certificate's secret, and no Lambda may read the CA key", () => {
    const fns = byType(t, 'AWS::Lambda::Function');
    expect(fns.length).toBeGreaterThan(40);
    for (const [id, f] of fns) {
      const vars = (f.Properties?.Environment as { Variables: Record<string, Json> }).Variables;
      expect({ id, ca: vars.PGWARDEN_DB_CA_SECRET_ARN }).toEqual({ id, ca: { Ref: 'TlsCaCertSecret' } });
    }
    const lambdaRoles = fns.map(([, f]) => ((f.Properties?.Role as Record<string, Json>)['Fn::GetAtt'] as string[])[0]);
    for (const role of lambdaRoles) expect(JSON.stringify(t.Resources[role].Properties)).not.toContain('"TlsCaSecret"');
  });
});

describe('the pgpool-II package recipe', () => {
  it('builds the tarball the lab builds, checked against the same SHA-256', () => {
    const lab = fs.readFileSync(path.join(ROOT, 'infra/local/pgpool-build.ts'), 'utf8');
    const rpm = fs.readFileSync(path.join(ROOT, 'infra/aws/pgpool-rpm/build-al2023.sh'), 'utf8');
    const labSha = /PINNED_SHA256 = '([0-9a-f]{64})'/.exec(lab)?.[1];
    const labVersion = /PGPOOL_VERSION = '([\d.]+)'/.exec(lab)?.[1];
    expect(labSha).toBeDefined();
    expect(rpm).toContain(`SHA256=${labSha}`);
    expect(rpm).toContain(`VERSION=${labVersion}`);
    expect(rpm).toContain('./configure --prefix=/usr --libdir=/usr/lib64 --sysconfdir=/etc/pgpool-II --with-openssl');
  });

  it("applies the lab's patches with the lab's own script, after unpacking and before configure", () => {
    const rpm = fs.readFileSync(path.join(ROOT, 'infra/aws/pgpool-rpm/build-al2023.sh'), 'utf8');
    const lab = fs.readFileSync(path.join(ROOT, 'infra/local/pgpool-build.ts'), 'utf8');
    expect(lab).toContain("join(PATCH_DIR, 'apply.sh')");
    const at = (s: string) => rpm.indexOf(s);
    expect(at('PATCHES=$(cd "$(dirname "$0")/../../local/pgpool-patches" && pwd)')).toBeGreaterThan(0);
    expect(at('tar -xzf "$work/pgpool.tar.gz"')).toBeGreaterThan(0);
    expect(at('bash "$PATCHES/apply.sh" "$work/pgpool-II-$VERSION"')).toBeGreaterThan(
      at('tar -xzf "$work/pgpool.tar.gz"'),
    );
    expect(at('./configure --prefix=/usr')).toBeGreaterThan(at('$PATCHES/apply.sh'));
    // The path the recipe names holds the script the lab runs.
    expect(fs.existsSync(path.join(ROOT, 'infra/aws/pgpool-rpm', '../../local/pgpool-patches/apply.sh'))).toBe(true);
  });
});

describe('least privilege: one role per Lambda, granting what its code calls', () => {
  it('derives a table from the code that is not trivially empty or uniform', () => {
    expect(derivedActions('functions/logdigest/handler.handler')).toEqual([
      'cloudwatch:PutMetricData',
      'logs:DescribeLogStreams',
      'logs:FilterLogEvents',
      's3:PutObject',
      'sns:Publish',
    ]);
    expect(derivedActions('functions/triggers/pgpool-hook.handler')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'states:StartExecution',
    ]);
    expect(derivedActions('functions/failover/fence.handler')).toEqual(
      expect.arrayContaining(['ssm:SendCommand', 'ec2:StopInstances']),
    );
    expect(derivedActions('functions/metrics/handler.handler')).not.toContain('ssm:SendCommand');
  });
  it("each role may write its own Lambda's log group and no other", () => {
    for (const [id, f] of byType(t, 'AWS::Lambda::Function')) {
      const role = ((f.Properties?.Role as Record<string, Json>)['Fn::GetAtt'] as string[])[0];
      const logs = identityStatements({ Resources: { [role]: t.Resources[role] } }).find(({ s }) =>
        JSON.stringify(s.Action).includes('logs:PutLogEvents'),
      );
      expect({ id, resource: JSON.stringify(logs?.s.Resource) }).toEqual({
        id,
        resource: JSON.stringify([
          {
            'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${String(f.Properties?.FunctionName)}:*`,
          },
        ]),
      });
    }
  });
  it('every Lambda has its own role granting exactly the SDK commands its handler reaches', () => {
    expect(rolesMatchCode(t)).toEqual([]);
  });
  it('fails on a role that grants more than the code calls, less, or serves two Lambdas', () => {
    const role = (actions: string[]): Resource => ({
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {},
        Policies: [
          { PolicyName: 'p', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] } },
        ],
      },
    });
    const fn = (handler: string, r: string): Resource => ({
      Type: 'AWS::Lambda::Function',
      Properties: { Handler: handler, Role: { 'Fn::GetAtt': [r, 'Arn'] } },
    });
    const broken: Template = {
      Resources: {
        HookRole: role(['dynamodb:GetItem', 'dynamodb:PutItem', 'states:StartExecution', 'ssm:SendCommand']),
        Hook: fn('functions/triggers/pgpool-hook.handler', 'HookRole'),
        DigestRole: role(['logs:FilterLogEvents', 's3:PutObject', 'sns:Publish', 'cloudwatch:PutMetricData']),
        Digest: fn('functions/logdigest/handler.handler', 'DigestRole'),
        Metrics: fn('functions/metrics/handler.handler', 'DigestRole'),
      },
    };
    const errs = rolesMatchCode(broken);
    expect(errs).toEqual(
      expect.arrayContaining([
        expect.stringContaining('DigestRole serves 2 Lambdas'),
        expect.stringContaining('Hook (functions/triggers/pgpool-hook.handler): role grants ssm:SendCommand'),
        expect.stringContaining('Digest (functions/logdigest/handler.handler): code calls logs:DescribeLogStreams'),
      ]),
    );
  });
});

describe('account-global names', () => {
  it('every fixed name of an account-global resource names the cluster, and so does the stack', () => {
    expect(globalNamesWithoutCluster(t, 'main')).toEqual([]);
    expect(serverlessConfig().provider?.stackName).toContain('${self:custom.cluster}');
  });
  it('fails on a node action document, a function and a log group named without the cluster', () => {
    const broken: Template = {
      Resources: {
        D: { Type: 'AWS::SSM::Document', Properties: { Name: 'pgwarden-promote', Content: {} } },
        F: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'pgwarden-dev-probe' } },
        L: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/pgwarden/mainline/postgresql' } },
        Ok: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'pgwarden-main-notify' } },
      },
    };
    expect(globalNamesWithoutCluster(broken, 'main')).toEqual([
      expect.stringContaining('D.Name = pgwarden-promote'),
      expect.stringContaining('F.FunctionName = pgwarden-dev-probe'),
      expect.stringContaining('L.LogGroupName = /pgwarden/mainline/postgresql'),
    ]);
  });
});
