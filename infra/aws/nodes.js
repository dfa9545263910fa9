'use strict';
/**
 * The database nodes (3, one per AZ, PostgreSQL 15 on Amazon Linux 2023 arm64; plus an optional
 * spare, parameter SpareNodes), the pgpool-II instances (2, behind an internal NLB), their roles,
 * the topology document and the node-scripts plumbing. Generated because the instances differ only
 * by index. The spare is installed and running with PostgreSQL stopped: the topology lists it with
 * role "removed" and every pgpool has its backend (down), so that scale out on the read-load alarm
 * turns it into a standby with no launch, and scale in returns it to the pool.
 * Used as `${file(./infra/aws/nodes.js):resources}`.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { sub } = require('./sub');
const { NODE_SCRIPTS_DIR, functionName, installDocumentName, topologyTableName } = require('./naming');

const AZS = ['A', 'B', 'C'];
const CORE_NODES = AZS.map((az, i) => ({ id: `Node${i + 1}`, name: `pg${i + 1}`, az, primary: i === 0 }));
const SPARE = { id: 'Node4', name: 'pg4', az: 'A', primary: false, spare: true };
const NODES = [...CORE_NODES, SPARE];
const PGPOOLS = ['A', 'B'].map((az, i) => ({ id: `Pgpool${i + 1}`, name: `pgpool${i + 1}`, az }));
const CLUSTER_TAG = 'pgwarden:cluster';
const USERDATA = path.join(__dirname, 'userdata');
const AGENT_CONFIG = path.join(__dirname, 'cloudwatch-agent.json');
const PGDATA = '/var/lib/pgwarden/data';

const ref = (Ref) => ({ Ref });
const getAtt = (id, attr) => ({ 'Fn::GetAtt': [id, attr] });
const arn = (service, resource, region = true) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:${service}:${region ? '${AWS::Region}' : ''}:\${AWS::AccountId}:${resource}`,
});

function userData(parts, vars) {
  const text = parts.map((p) => fs.readFileSync(path.join(USERDATA, p), 'utf8')).join('\n');
  return { 'Fn::Base64': sub(text, vars) };
}

function instanceRole(id, description, statements) {
  return {
    [`${id}Role`]: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Description: description,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        ManagedPolicyArns: [
          { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore' },
          { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy' },
        ],
        Policies: [{ PolicyName: 'pgwarden', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
      },
    },
    [`${id}InstanceProfile`]: {
      Type: 'AWS::IAM::InstanceProfile',
      Properties: { Roles: [ref(`${id}Role`)] },
    },
  };
}

/** The root volume (disposable: the data has its own volume). */
const ebs = (DeviceName, VolumeSize) => ({
  DeviceName,
  Ebs: {
    VolumeType: 'gp3',
    VolumeSize,
    Encrypted: true,
    KmsKeyId: getAtt('DataKey', 'Arn'),
    DeleteOnTermination: true,
  },
});

/**
 * One launch template per instance, holding every property a stack parameter or the image may change
 * (image, type, profile, network interface, user data). The instance pins version 1 of it: a deploy
 * with a new image or type only adds a version here and replaces nothing (test/aws: stateful
 * resources). docs/aws.md: how a new image reaches the nodes, one at a time.
 */
function launchTemplate(cluster, { profile, instanceType, subnet, securityGroup, userData: ud }) {
  return {
    Type: 'AWS::EC2::LaunchTemplate',
    Properties: {
      LaunchTemplateData: {
        ImageId: ref('NodeImageId'),
        InstanceType: ref(instanceType),
        IamInstanceProfile: { Arn: getAtt(profile, 'Arn') },
        // IMDSv2 only; hop limit 1 keeps containers on the host from reaching the instance's role.
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
        Monitoring: { Enabled: true },
        EbsOptimized: true,
        // The root volume only: it is disposable (the data lives on its own volume, DataVolume).
        BlockDeviceMappings: [ebs('/dev/xvda', 20)],
        NetworkInterfaces: [
          {
            DeviceIndex: 0,
            SubnetId: ref(subnet),
            Groups: [ref(securityGroup)],
            AssociatePublicIpAddress: false,
            DeleteOnTermination: true,
          },
        ],
        UserData: ud,
        TagSpecifications: ['volume', 'network-interface'].map((ResourceType) => ({
          ResourceType,
          Tags: [{ Key: CLUSTER_TAG, Value: cluster }],
        })),
      },
    },
  };
}

/** Kept on stack deletion and on any replacement: the cluster's data and what decrypts it. */
const RETAIN = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };

function build(cluster, stage) {
  const R = {};
  const secretArns = ['PostgresSecret', 'ReplicatorSecret', 'DbSecret', 'PgpoolSecret', 'AppSecret'].map(ref);
  const common = [
    {
      Sid: 'ReadAgentConfig',
      Effect: 'Allow',
      Action: ['ssm:GetParameter'],
      Resource: [arn('ssm', `parameter/pgwarden/${cluster}/cloudwatch-agent`)],
    },
    {
      Sid: 'ReadNodeScripts',
      Effect: 'Allow',
      Action: ['ssm:GetDocument'],
      Resource: [arn('ssm', `document/${installDocumentName(cluster)}`)],
    },
    { Sid: 'DecryptSecrets', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [getAtt('SecretsKey', 'Arn')] },
    {
      Sid: 'ShipLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: [
        { 'Fn::Sub': '${PostgresLogGroup.Arn}' },
        { 'Fn::Sub': '${PostgresLogGroup.Arn}:log-stream:*' },
        { 'Fn::Sub': '${PostgresJsonLogGroup.Arn}' },
        { 'Fn::Sub': '${PostgresJsonLogGroup.Arn}:log-stream:*' },
        { 'Fn::Sub': '${NodeCommandLogGroup.Arn}' },
        { 'Fn::Sub': '${NodeCommandLogGroup.Arn}:log-stream:*' },
      ],
    },
    {
      Sid: 'EncryptLogs',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: [getAtt('DataKey', 'Arn')],
    },
    // A bootstrap that fails says so (common.sh): to the operators, and to CloudFormation for pgpool.
    { Sid: 'NotifyBootstrapFailure', Effect: 'Allow', Action: ['sns:Publish'], Resource: [ref('NotifyTopic')] },
    {
      Sid: 'SignalBootstrap',
      Effect: 'Allow',
      Action: ['cloudformation:SignalResource'],
      Resource: [
        {
          'Fn::Sub': 'arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*',
        },
      ],
    },
  ];
  Object.assign(
    R,
    instanceRole('Node', `pgwarden ${cluster}: PostgreSQL nodes`, [
      ...common,
      { Sid: 'ReadDatabaseSecrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: secretArns },
      // The first primary creates the cluster CA (userdata/common.sh, tls_setup); the others read it.
      {
        Sid: 'ClusterCa',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        Resource: [ref('TlsCaSecret'), ref('TlsCaCertSecret')],
      },
      { Sid: 'EncryptCa', Effect: 'Allow', Action: ['kms:GenerateDataKey'], Resource: [getAtt('SecretsKey', 'Arn')] },
    ]),
    instanceRole('Pgpool', `pgwarden ${cluster}: pgpool-II instances`, [
      ...common,
      {
        Sid: 'ReadPgpoolSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        // Only the logins through pgpool (pgpool, app) and PCP's own: never the postgres superuser's
        // or the automation role's (pgwarden's Lambdas log in through pgpool as pgpool).
        Resource: [ref('PgpoolSecret'), ref('AppSecret'), ref('PcpSecret'), ref('TlsCaSecret')],
      },
      // pgpool's failover_command: `aws lambda invoke` of the pgpool hook (the fast path).
      {
        Sid: 'InvokeFailoverHook',
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [arn('lambda', `function:${functionName(cluster, stage, 'pgpoolHook')}`)],
      },
      {
        Sid: 'StagedPgpoolPackage',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: {
          'Fn::Sub': [
            'arn:${AWS::Partition}:s3:::${Path}',
            { Path: { 'Fn::Select': [1, { 'Fn::Split': ['s3://', ref('PgpoolPackageS3Uri')] }] } },
          ],
        },
      },
    ]),
  );
  const vars = {
    ClusterName: cluster,
    VpcCidr: ref('VpcCidr'),
    WalSegmentSizeMB: ref('WalSegmentSizeMB'),
    AgentConfigParameter: `/pgwarden/${cluster}/cloudwatch-agent`,
    InstallDocument: installDocumentName(cluster),
    NotifyTopic: ref('NotifyTopic'),
    PostgresSecret: ref('PostgresSecret'),
    PcpSecret: ref('PcpSecret'),
    TlsCaSecret: ref('TlsCaSecret'),
    TlsCaCertSecret: ref('TlsCaCertSecret'),
    ReplicatorSecret: ref('ReplicatorSecret'),
    DbSecret: ref('DbSecret'),
    PgpoolSecret: ref('PgpoolSecret'),
    AppSecret: ref('AppSecret'),
  };
  const AZ_INDEX = { A: 0, B: 1, C: 2 };
  // The subnet's own expression (not a GetAtt of it): a volume must not depend on the subnet's CIDR.
  const azOf = (az) => ({ 'Fn::Select': [AZ_INDEX[az], { 'Fn::GetAZs': '' }] });
  const instance = (id, name, lt, role, extra = {}) => ({
    Type: 'AWS::EC2::Instance',
    DependsOn: ['InstallNodeScriptsDocument', 'AgentConfigParameter'],
    ...RETAIN,
    ...extra,
    Properties: {
      // Version 1, never LatestVersionNumber: a new version (image, type, user data) replaces nothing.
      LaunchTemplate: { LaunchTemplateId: ref(lt), Version: '1' },
      Tags: [
        { Key: 'Name', Value: `pgwarden-${cluster}-${name}` },
        { Key: CLUSTER_TAG, Value: cluster },
        { Key: 'pgwarden:role', Value: role },
        { Key: 'pgwarden:name', Value: name },
      ],
    },
  });
  for (const n of NODES) {
    const cond = n.spare ? { Condition: 'HasSpareNode' } : {};
    R[`${n.id}DataVolume`] = {
      Type: 'AWS::EC2::Volume',
      ...RETAIN,
      ...cond,
      Properties: {
        AvailabilityZone: azOf(n.az),
        Size: ref('DataVolumeSizeGiB'),
        VolumeType: 'gp3',
        Encrypted: true,
        KmsKeyId: getAtt('DataKey', 'Arn'),
        Tags: [
          { Key: 'Name', Value: `pgwarden-${cluster}-${n.name}-data` },
          { Key: CLUSTER_TAG, Value: cluster },
        ],
      },
    };
    R[`${n.id}LaunchTemplate`] = {
      ...launchTemplate(cluster, {
        profile: 'NodeInstanceProfile',
        instanceType: 'NodeInstanceType',
        subnet: `PrivateSubnet${n.az}`,
        securityGroup: 'NodeSecurityGroup',
        userData: userData(['common.sh', 'install-node-scripts.sh', 'node.sh'], {
          ...vars,
          InstanceName: n.name,
          SignalResource: '',
          DataVolumeId: ref(`${n.id}DataVolume`),
          BootstrapRole: n.primary ? 'primary' : n.spare ? 'spare' : 'standby',
          // The first primary bootstraps itself: it has no upstream.
          PrimaryHost: n.primary ? 'none' : getAtt(`${NODES[0].id}Instance`, 'PrivateIp'),
        }),
      }),
      ...cond,
    };
    R[`${n.id}Instance`] = { ...instance(`${n.id}Instance`, n.name, `${n.id}LaunchTemplate`, 'node'), ...cond };
    R[`${n.id}DataVolumeAttachment`] = {
      Type: 'AWS::EC2::VolumeAttachment',
      ...cond,
      Properties: { Device: '/dev/sdf', InstanceId: ref(`${n.id}Instance`), VolumeId: ref(`${n.id}DataVolume`) },
    };
  }
  // With the spare or without it: the same list, one element longer (Fn::If over the whole value).
  const withSpare = (f) => ({ 'Fn::If': ['HasSpareNode', f(NODES), f(CORE_NODES)] });
  // configure-pgpool.sh: "name=host:port ..." in backend id order.
  const backends = withSpare((nodes) => ({
    'Fn::Join': [
      ' ',
      nodes.map((n) => ({ 'Fn::Join': ['', [`${n.name}=`, getAtt(`${n.id}Instance`, 'PrivateIp'), ':5432']] })),
    ],
  }));
  for (const p of PGPOOLS) {
    R[`${p.id}LaunchTemplate`] = launchTemplate(cluster, {
      profile: 'PgpoolInstanceProfile',
      instanceType: 'PgpoolInstanceType',
      subnet: `PrivateSubnet${p.az}`,
      securityGroup: 'PgpoolSecurityGroup',
      userData: userData(['common.sh', 'install-node-scripts.sh', 'pgpool.sh'], {
        ...vars,
        InstanceName: p.name,
        // The instance is complete only when its bootstrap says so: pgpool installed, configured, running.
        SignalResource: `${p.id}Instance`,
        Backends: backends,
        PgpoolHookFunction: functionName(cluster, stage, 'pgpoolHook'),
        PgpoolPackageS3Uri: ref('PgpoolPackageS3Uri'),
        PgpoolNlbDns: getAtt('PgpoolNlb', 'DNSName'),
      }),
    });
    R[`${p.id}Instance`] = instance(`${p.id}Instance`, p.name, `${p.id}LaunchTemplate`, 'pgpool', {
      CreationPolicy: { ResourceSignal: { Count: 1, Timeout: 'PT30M' } },
    });
  }

  R.PgpoolNlb = {
    Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer',
    Properties: {
      Type: 'network',
      Scheme: 'internal',
      Subnets: AZS.map((az) => ref(`PrivateSubnet${az}`)),
      SecurityGroups: [ref('PgpoolNlbSecurityGroup')],
      LoadBalancerAttributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }],
    },
  };
  R.PgpoolTargetGroup = {
    Type: 'AWS::ElasticLoadBalancingV2::TargetGroup',
    Properties: {
      VpcId: ref('Vpc'),
      TargetType: 'instance',
      Protocol: 'TCP',
      Port: 9999,
      HealthCheckProtocol: 'TCP',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Targets: PGPOOLS.map((p) => ({ Id: ref(`${p.id}Instance`), Port: 9999 })),
      TargetGroupAttributes: [
        { Key: 'deregistration_delay.timeout_seconds', Value: '10' },
        { Key: 'deregistration_delay.connection_termination.enabled', Value: 'true' },
      ],
    },
  };
  R.PgpoolListener = {
    Type: 'AWS::ElasticLoadBalancingV2::Listener',
    Properties: {
      LoadBalancerArn: ref('PgpoolNlb'),
      Protocol: 'TCP',
      Port: 9999,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: ref('PgpoolTargetGroup') }],
    },
  };

  // The topology: one DynamoDB item per cluster, written only with a condition on its version
  // (functions/lib/aws/dynamodb-topology-store.ts). CloudFormation creates the table; the first
  // document is written once by the topologySeed custom resource (an insert that fails if the item
  // exists), and from then on pgwarden owns it: no deploy rewrites it.
  const nodeJson = (n, i) => ({
    'Fn::Join': [
      '',
      [
        `{"name":"${n.name}","host":"`,
        getAtt(`${n.id}Instance`, 'PrivateIp'),
        `","port":5432,"backendId":${i},"role":"${n.primary ? 'primary' : n.spare ? 'removed' : 'standby'}","instanceId":"`,
        ref(`${n.id}Instance`),
        `","priority":${NODES.length - i}}`,
      ],
    ],
  });
  const pgpoolsJson = PGPOOLS.map((p) => ({
    'Fn::Join': [
      '',
      [
        `{"name":"${p.name}","host":"`,
        getAtt(`${p.id}Instance`, 'PrivateIp'),
        '","port":9999,"pcpPort":9898,"instanceId":"',
        ref(`${p.id}Instance`),
        '"}',
      ],
    ],
  }));
  R.TopologyTable = {
    Type: 'AWS::DynamoDB::Table',
    ...RETAIN,
    Properties: {
      TableName: topologyTableName(cluster),
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'cluster', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'cluster', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: getAtt('DataKey', 'Arn') },
      DeletionProtectionEnabled: true,
      Tags: [{ Key: CLUSTER_TAG, Value: cluster }],
    },
  };
  R.TopologySeed = {
    Type: 'Custom::TopologySeed',
    Properties: {
      ServiceToken: getAtt('TopologySeedLambdaFunction', 'Arn'),
      TableName: ref('TopologyTable'),
      Document: {
        'Fn::Join': [
          '',
          [
            `{"cluster":"${cluster}","version":1,"primary":"${NODES[0].name}","timeline":1,"paused":false,"syncQuorum":1,"nodes":[`,
            withSpare((nodes) => ({ 'Fn::Join': [',', nodes.map(nodeJson)] })),
            '],"pgpools":[',
            { 'Fn::Join': [',', pgpoolsJson] },
            '],"history":[]}',
          ],
        ],
      },
    },
  };

  R.AgentConfigParameter = {
    Type: 'AWS::SSM::Parameter',
    Properties: {
      Name: `/pgwarden/${cluster}/cloudwatch-agent`,
      Description: 'CloudWatch agent configuration (infra/aws/cloudwatch-agent.json)',
      Type: 'String',
      Tier: 'Advanced',
      Value: agentConfig(cluster),
    },
  };
  const bundle = nodeScriptsBundle();
  R.InstallNodeScriptsDocument = {
    Type: 'AWS::SSM::Document',
    Properties: {
      Name: installDocumentName(cluster),
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
      UpdateMethod: 'NewVersion',
      TargetType: '/AWS::EC2::Instance',
      Content: {
        schemaVersion: '2.2',
        description: `pgwarden: install infra/node (bundle ${bundle.hash}) as /opt/pgwarden/node`,
        parameters: {
          BundleHash: { type: 'String', default: '', description: 'changes with infra/node: re-runs the association' },
        },
        mainSteps: [{ action: 'aws:runShellScript', name: 'install', inputs: { runCommand: bundle.commands } }],
      },
    },
  };
  R.InstallNodeScriptsAssociation = {
    Type: 'AWS::SSM::Association',
    DependsOn: CORE_NODES.map((n) => `${n.id}Instance`).concat(PGPOOLS.map((p) => `${p.id}Instance`)),
    Properties: {
      Name: ref('InstallNodeScriptsDocument'),
      AssociationName: `pgwarden-${cluster}-install-node-scripts`,
      Targets: [{ Key: `tag:${CLUSTER_TAG}`, Values: [cluster] }],
      Parameters: { BundleHash: [bundle.hash] },
      MaxConcurrency: '1',
      MaxErrors: '0',
    },
  };

  const Parameters = {
    // No default and no "latest" alias: the image changes only when an operator changes it
    // (docs/aws.md, "Changing the image"), and then only the launch templates get a new version.
    NodeImageId: {
      Type: 'AWS::EC2::Image::Id',
      Description:
        'Amazon Linux 2023 arm64 (Graviton) AMI id for nodes and pgpool, pinned (serverless.yml params.nodeImageId)',
    },
    NodeInstanceType: {
      Type: 'String',
      Default: 'm7g.large',
      AllowedPattern: '^[a-z0-9]+g[a-z]*\\.[a-z0-9]+$',
      Description: 'Graviton (arm64) type',
    },
    PgpoolInstanceType: {
      Type: 'String',
      Default: 't4g.small',
      AllowedPattern: '^[a-z0-9]+g[a-z]*\\.[a-z0-9]+$',
      Description: 'Graviton (arm64) type',
    },
    DataVolumeSizeGiB: { Type: 'Number', Default: 100, MinValue: 10 },
    PgpoolPackageS3Uri: {
      Type: 'String',
      // Required: without it the pgpool instances cannot install pgpool; CloudFormation refuses the deploy
      // at once, naming this parameter, instead of after a 30-minute bootstrap timeout.
      AllowedPattern: '^s3://[a-z0-9.-]+/.+$',
      ConstraintDescription: 'an s3://bucket/key of a pgpool-II 4.5+ aarch64 RPM (docs/aws.md: building it)',
      Description:
        's3://bucket/key of a pgpool-II 4.5 or later aarch64 RPM (docs/aws.md: building it): AL2023 has no pgpool-II package and the VPC has no internet route',
    },
    WalSegmentSizeMB: {
      Type: 'String',
      Default: '4',
      AllowedValues: ['1', '2', '4', '8', '16', '32', '64'],
      Description:
        'WAL segment size (initdb --wal-segsize; fixed once the cluster exists): a promotion copies and fills the last segment, so smaller is a faster failover and switchover',
    },
    SpareNodes: {
      Type: 'Number',
      Default: 1,
      AllowedValues: ['0', '1'],
      Description:
        'spare node instances (installed, PostgreSQL stopped) that the read-load alarm turns into standbys (scale out); 0 = scale out by hand only',
    },
  };
  const Conditions = {
    HasSpareNode: { 'Fn::Equals': [ref('SpareNodes'), '1'] },
  };
  const Outputs = {
    DatabaseEndpoint: { Value: { 'Fn::Join': ['', [getAtt('PgpoolNlb', 'DNSName'), ':9999']] } },
    TopologyTableName: { Value: ref('TopologyTable') },
  };
  return { Parameters, Conditions, Resources: R, Outputs };
}

/**
 * infra/node as shell commands that recreate it under /opt/pgwarden/node: each file gzip + base64 in
 * one command, then an atomic swap. Deterministic, so the hash changes only when a file does.
 */
function nodeScriptsBundle(dir = NODE_SCRIPTS_DIR) {
  const files = listFiles(dir);
  const hash = crypto.createHash('sha256');
  const commands = ['set -euo pipefail', 'mkdir -p /opt/pgwarden && new=$(mktemp -d /opt/pgwarden/.new.XXXXXX)'];
  for (const rel of files) {
    const content = fs.readFileSync(path.join(dir, rel));
    hash.update(rel).update('\0').update(content).update('\0');
    const b64 = zlib.gzipSync(content, { level: 9 }).toString('base64');
    if (rel.includes('/')) commands.push(`mkdir -p "$new/${path.posix.dirname(rel)}"`);
    commands.push(`echo '${b64}' | base64 -d | gunzip >"$new/${rel}"`);
    if (rel.endsWith('.sh')) commands.push(`chmod 0755 "$new/${rel}"`);
  }
  const digest = hash.digest('hex').slice(0, 16);
  commands.push(`echo ${digest} >"$new/.bundle"`, 'chmod 0755 "$new"');
  commands.push(
    'rm -rf /opt/pgwarden/node.old',
    '[ ! -d /opt/pgwarden/node ] || mv /opt/pgwarden/node /opt/pgwarden/node.old',
  );
  commands.push('mv "$new" /opt/pgwarden/node', 'rm -rf /opt/pgwarden/node.old');
  return { hash: digest, commands, files };
}

function listFiles(dir, prefix = '') {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) =>
      e.isDirectory() ? listFiles(dir, path.posix.join(prefix, e.name)) : [path.posix.join(prefix, e.name)],
    );
}

/**
 * infra/aws/cloudwatch-agent.json (another engineer's file) as the nodes load it: its {cluster} and
 * {pgdata} tokens filled in ({instance_id} and the like are the agent's own).
 */
function agentConfigText(cluster) {
  if (!fs.existsSync(AGENT_CONFIG)) {
    throw new Error('infra/aws/cloudwatch-agent.json is missing (the CloudWatch agent configuration the nodes load)');
  }
  const text = fs.readFileSync(AGENT_CONFIG, 'utf8').replaceAll('{cluster}', cluster).replaceAll('{pgdata}', PGDATA);
  JSON.parse(text);
  return text;
}
const agentConfig = (cluster) => sub(agentConfigText(cluster), { ClusterName: cluster });

async function resources({ resolveVariable }) {
  const [cluster, stage] = await Promise.all([resolveVariable('self:custom.cluster'), resolveVariable('sls:stage')]);
  return build(cluster, stage);
}

/**
 * The instance ids of every database node, the spare included when the stack has it (it becomes a
 * standby on scale out, so its state changes matter as any node's): `{nodeInstanceIds}` in the
 * ec2StateTrigger's EventBridge pattern (functions/triggers/event-rules.json, filled in by event-rules.js).
 */
function nodeInstanceIds() {
  const refs = (nodes) => nodes.map((n) => ref(`${n.id}Instance`));
  return { 'Fn::If': ['HasSpareNode', refs(NODES), refs(CORE_NODES)] };
}

module.exports = {
  build,
  resources,
  nodeInstanceIds,
  nodeScriptsBundle,
  agentConfigText,
  NODES,
  PGPOOLS,
  CLUSTER_TAG,
};
