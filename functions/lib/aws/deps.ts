/**
 * The AWS wiring of the ports: what every Lambda handler gets by default (`makeHandler(awsDeps())`).
 *
 * SDK clients are created once per module (so once per Lambda container) and only when first used;
 * adapters are built on first use too, so a handler only needs the configuration of the ports it
 * touches, and importing this module makes no AWS call.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type PgwardenEnv, readEnv } from '../env';
import type { Deps } from '../ports';
import { CloudWatchMetrics } from './cloudwatch-metrics';
import { powertoolsLog } from './logger';
import { Ec2InstanceControl } from './ec2-instance-control';
import { SecretsManagerSecrets } from './secrets';
import { SfnWorkflowStarter } from './sfn-workflow-starter';
import { SnsNotifier } from './sns-notifier';
import { SsmNodeCommands } from './ssm-node-commands';
import { DynamoDbTopologyStore } from './dynamodb-topology-store';
import { tracedClient } from './tracing';

interface Clients {
  ssm?: SSMClient;
  dynamodb?: DynamoDBClient;
  sfn?: SFNClient;
  cloudwatch?: CloudWatchClient;
  sns?: SNSClient;
  secrets?: SecretsManagerClient;
  ec2?: EC2Client;
}
const clients: Clients = {};

let defaultDeps: Deps | undefined;

/**
 * Without an argument, returns the one wiring of this container (so the secret cache outlives an
 * invocation even if a handler calls awsDeps() each time). With `env`, builds a fresh one.
 */
export function awsDeps(env?: PgwardenEnv): Deps {
  if (env) return build(env);
  return (defaultDeps ??= build(readEnv()));
}

function build(env: PgwardenEnv): Deps {
  const region = () => ({ region: env.region });
  const ssm = () => (clients.ssm ??= tracedClient(new SSMClient(region())));
  const dynamodb = () => (clients.dynamodb ??= tracedClient(new DynamoDBClient(region())));
  const sfn = () => (clients.sfn ??= tracedClient(new SFNClient(region())));
  const cloudwatch = () => (clients.cloudwatch ??= tracedClient(new CloudWatchClient(region())));
  const sns = () => (clients.sns ??= tracedClient(new SNSClient(region())));
  const secretsManager = () => (clients.secrets ??= tracedClient(new SecretsManagerClient(region())));
  const ec2 = () => (clients.ec2 ??= tracedClient(new EC2Client(region())));

  // Powertools Logger: the same JSON lines with the invocation's keys (cluster, execution, step, trace id).
  const log = powertoolsLog();
  const memo: Partial<Omit<Deps, 'now' | 'sleep' | 'log'>> = {};

  return {
    get cluster() {
      return (memo.cluster ??= env.cluster);
    },
    get topology() {
      return (memo.topology ??= new DynamoDbTopologyStore(dynamodb(), { table: env.topologyTable, log }));
    },
    get nodes() {
      return (memo.nodes ??= new SsmNodeCommands(ssm(), {
        documentPrefix: env.ssmDocumentPrefix,
        cloudWatchLogGroup: env.ssmOutputLogGroup,
      }));
    },
    get instances() {
      return (memo.instances ??= new Ec2InstanceControl(ec2()));
    },
    get workflows() {
      return (memo.workflows ??= new SfnWorkflowStarter(sfn(), env.stateMachineArns));
    },
    get metrics() {
      return (memo.metrics ??= new CloudWatchMetrics(cloudwatch(), { log }));
    },
    get notifier() {
      return (memo.notifier ??= new SnsNotifier(sns(), env.notifyTopicArn));
    },
    get secrets() {
      return (memo.secrets ??= new SecretsManagerSecrets(secretsManager(), env.dbSecretArn, {
        caSecretId: env.dbCaSecretArn,
        pgpoolSecretId: env.pgpoolSecretArn,
      }));
    },
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log,
  };
}

/** One JSON object per line on stdout: CloudWatch Logs Insights parses the fields. */
export function jsonLog(
  env: Pick<PgwardenEnv, 'cluster'>,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Deps['log'] {
  return (msg, fields = {}) => {
    let cluster: string | undefined;
    try {
      cluster = env.cluster;
    } catch {
      // Logging must never throw, not even for missing configuration.
    }
    const line = { time: new Date().toISOString(), level: 'info', ...(cluster ? { cluster } : {}), msg, ...fields };
    write(JSON.stringify(line, errorsAsObjects) + '\n');
  };
}

/** JSON.stringify turns an Error into {}: keep what a reader needs. */
function errorsAsObjects(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
