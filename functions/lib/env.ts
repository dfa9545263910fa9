/**
 * Configuration from environment variables, read here and nowhere else (and the step timings, in
 * settings.ts). No AWS import: the lab reads the same names.
 *
 * Every getter reads the variable when asked, so a Lambda that never notifies does not need the
 * topic ARN, and a missing variable fails with an error that names it.
 */
import type { WorkflowName } from './ports';

/** The stack's names for a cluster (infra/aws/naming.js): every account-global name carries the cluster. */
export const defaultTopologyTable = (cluster: string) => `pgwarden-${cluster}-topology`;
export const defaultDocumentPrefix = (cluster: string) => `pgwarden-${cluster}`;

export const WORKFLOWS = [
  'failover',
  'switchover',
  'rejoin',
  'maintenance',
  'scale-out',
  'scale-in',
] as const satisfies readonly WorkflowName[];
// Compile-time check that WORKFLOWS lists every WorkflowName.
const _everyWorkflowListed: Exclude<WorkflowName, (typeof WORKFLOWS)[number]> extends never ? true : never = true;
void _everyWorkflowListed;

export class EnvError extends Error {
  constructor(
    public readonly variable: string,
    problem: string,
  ) {
    super(`environment variable ${variable} ${problem}`);
    this.name = 'EnvError';
  }
}

/** Environment variables by name: process.env, or what a caller or test hands in instead. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** The process's environment, for a reader elsewhere that takes its source as a parameter (the digest's config). */
export function processEnv(): EnvSource {
  return process.env;
}

export interface PgwardenEnv {
  /** PGWARDEN_CLUSTER */
  readonly cluster: string;
  /** PGWARDEN_TOPOLOGY_TABLE: the DynamoDB table of the topology; default pgwarden-<cluster>-topology */
  readonly topologyTable: string;
  /** PGWARDEN_DB_SECRET_ARN */
  readonly dbSecretArn: string;
  /** PGWARDEN_NOTIFY_TOPIC_ARN */
  readonly notifyTopicArn: string;
  /** PGWARDEN_STATE_MACHINE_ARNS: JSON object, workflow name -> state machine ARN */
  readonly stateMachineArns: Partial<Record<WorkflowName, string>>;
  /** PGWARDEN_SSM_DOCUMENT_PREFIX, default pgwarden-<cluster> */
  readonly ssmDocumentPrefix: string;
  /** PGWARDEN_SSM_OUTPUT_LOG_GROUP, optional: node command output also goes to this log group */
  readonly ssmOutputLogGroup: string | undefined;
  /** PGWARDEN_DB_CA_SECRET_ARN, optional: the secret {"cert"} of the cluster CA (AWS) */
  readonly dbCaSecretArn: string | undefined;
  /** PGWARDEN_PGPOOL_SECRET_ARN, optional: the pgpool role's secret, for sessions through a pgpool */
  readonly pgpoolSecretArn: string | undefined;
  /** AWS_REGION (set by Lambda) */
  readonly region: string;
}

export function readEnv(source: EnvSource = process.env): PgwardenEnv {
  const optional = (name: string): string | undefined => {
    const v = source[name]?.trim();
    return v ? v : undefined;
  };
  const required = (name: string): string => {
    const v = optional(name);
    if (v === undefined) throw new EnvError(name, 'is not set');
    return v;
  };
  return {
    get cluster() {
      return required('PGWARDEN_CLUSTER');
    },
    get topologyTable() {
      return optional('PGWARDEN_TOPOLOGY_TABLE') ?? defaultTopologyTable(required('PGWARDEN_CLUSTER'));
    },
    get dbSecretArn() {
      return required('PGWARDEN_DB_SECRET_ARN');
    },
    get notifyTopicArn() {
      return required('PGWARDEN_NOTIFY_TOPIC_ARN');
    },
    get stateMachineArns() {
      return parseStateMachineArns(required('PGWARDEN_STATE_MACHINE_ARNS'));
    },
    get ssmDocumentPrefix() {
      return optional('PGWARDEN_SSM_DOCUMENT_PREFIX') ?? defaultDocumentPrefix(required('PGWARDEN_CLUSTER'));
    },
    get ssmOutputLogGroup() {
      return optional('PGWARDEN_SSM_OUTPUT_LOG_GROUP');
    },
    get dbCaSecretArn() {
      return optional('PGWARDEN_DB_CA_SECRET_ARN');
    },
    get pgpoolSecretArn() {
      return optional('PGWARDEN_PGPOOL_SECRET_ARN');
    },
    get region() {
      return required('AWS_REGION');
    },
  };
}

/** readEnv over the process's environment with some variables given (the operator CLI's command line). */
export function readEnvWith(given: EnvSource, source: EnvSource = process.env): PgwardenEnv {
  return readEnv({ ...source, ...given });
}

/** AWS_LAMBDA_FUNCTION_NAME, as set (by Lambda; unset in the lab, the tests and the operator's CLI). */
export function lambdaFunctionName(source: EnvSource = process.env): string | undefined {
  return source.AWS_LAMBDA_FUNCTION_NAME;
}

/** PGWARDEN_CLUSTER when set and not empty, for log keys (readEnv's cluster throws when it is missing). */
export function clusterIfSet(source: EnvSource = process.env): string | undefined {
  return source.PGWARDEN_CLUSTER || undefined;
}

/**
 * Reads every variable once and returns what it read: a required variable that is missing, or one that
 * does not parse, throws the EnvError naming it. A rehearsal (functions/lib/rehearsal.ts) proves a
 * Lambda's configuration this way without using it.
 */
export function checkEnv(env: PgwardenEnv = readEnv()): PgwardenEnv {
  return { ...env };
}

/**
 * PGWARDEN_REHEARSAL_FUNCTIONS (the rehearsal Lambda only): the Lambda functions it invokes, generated
 * by infra/aws/functions.js from the ASL files' Tasks, as `{"prefix": "pgwarden-<cluster>-<stage>-",
 * "functions": ["failoverAssess", ...]}` (the names share their prefix; written once, the list stays far
 * from Lambda's 4 KB of environment whatever the cluster's and stage's names). Returns the full names.
 */
export function readRehearsalFunctions(source: EnvSource = process.env): string[] {
  const name = 'PGWARDEN_REHEARSAL_FUNCTIONS';
  const raw = source[name]?.trim();
  if (!raw) throw new EnvError(name, 'is not set');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new EnvError(name, 'is not JSON (expected {"prefix": "pgwarden-<cluster>-<stage>-", "functions": [...]})');
  }
  const { prefix, functions } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    prefix?: unknown;
    functions?: unknown;
  };
  if (typeof prefix !== 'string' || !Array.isArray(functions) || functions.length === 0)
    throw new EnvError(name, 'must be {"prefix": "...", "functions": [...]} with at least one function');
  const names = functions.map((f) => `${prefix}${String(f)}`);
  for (const [i, f] of functions.entries())
    if (typeof f !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(names[i]))
      throw new EnvError(name, `lists ${JSON.stringify(f)}, which does not make a Lambda function name`);
  return [...new Set(names)];
}

/** A JSON object workflow name -> state machine ARN, from the variable `name`; errors name it. */
export function parseStateMachineArns(
  raw: string,
  name = 'PGWARDEN_STATE_MACHINE_ARNS',
): Partial<Record<WorkflowName, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new EnvError(name, 'is not JSON (expected {"failover": "arn:aws:states:...", ...})');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EnvError(name, 'must be a JSON object mapping workflow names to state machine ARNs');
  }
  const out: Partial<Record<WorkflowName, string>> = {};
  for (const [workflow, arn] of Object.entries(parsed)) {
    if (!(WORKFLOWS as readonly string[]).includes(workflow)) {
      throw new EnvError(name, `names an unknown workflow "${workflow}" (known: ${WORKFLOWS.join(', ')})`);
    }
    if (typeof arn !== 'string' || !/^arn:[^:]+:states:[^:]+:[^:]+:stateMachine:.+/.test(arn)) {
      throw new EnvError(name, `maps "${workflow}" to something that is not a state machine ARN`);
    }
    out[workflow as WorkflowName] = arn;
  }
  return out;
}
