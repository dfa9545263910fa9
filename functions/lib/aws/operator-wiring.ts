/**
 * The AWS wiring of the operator CLI (`pgwarden --aws ...`) on an operator's machine: the same ports a
 * trigger Lambda gets (awsDeps, so the topology is read and written through the TopologyStore the
 * Lambdas use, and StartExecution through the same starter), configured from the command line
 * instead of a Lambda's environment, plus what only an operator reads: executions and alarms.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { readEnvWith } from '../env';
import type { Deps, TopologyStore } from '../ports';
import { CloudWatchAlarms } from './cloudwatch-alarms';
import { awsDeps } from './deps';
import { LambdaOperator } from './lambda-operator';
import { SfnExecutions, type StateMachineArns } from './sfn-executions';
import { SfnStateMachines } from './sfn-state-machines';

export interface OperatorAwsOptions {
  cluster: string;
  region: string;
  /** The Serverless stage: the deployed functions are named pgwarden-<stage>-<function>. */
  stage: string;
  /** Tests hand in a store; otherwise the one awsDeps wires. */
  topology?: TopologyStore;
  /** Where the ports' log lines go (default: nowhere; a Lambda's go to stdout, the CLI's output is its own). */
  log?: Deps['log'];
}

export interface OperatorAws {
  stateMachines: SfnStateMachines;
  executions: SfnExecutions;
  alarms: CloudWatchAlarms;
  operatorLambda: LambdaOperator;
  deps(stateMachines: StateMachineArns): Deps;
}

export function operatorAws(o: OperatorAwsOptions): OperatorAws {
  const sfn = new SFNClient({ region: o.region });
  return {
    stateMachines: new SfnStateMachines(sfn),
    executions: new SfnExecutions(sfn),
    alarms: new CloudWatchAlarms(new CloudWatchClient({ region: o.region })),
    operatorLambda: new LambdaOperator(new LambdaClient({ region: o.region }), `pgwarden-${o.stage}-operator`),
    deps(stateMachines) {
      const base = awsDeps(
        readEnvWith({
          PGWARDEN_CLUSTER: o.cluster,
          AWS_REGION: o.region,
          PGWARDEN_STATE_MACHINE_ARNS: JSON.stringify(stateMachines),
        }),
      );
      return wrap(base, o.topology, o.log ?? (() => undefined));
    },
  };
}

/** awsDeps builds its adapters on first use: delegate lazily so that unused ports need no configuration. */
function wrap(base: Deps, topology: TopologyStore | undefined, log: Deps['log']): Deps {
  return {
    get cluster() {
      return base.cluster;
    },
    get topology() {
      return topology ?? base.topology;
    },
    get nodes() {
      return base.nodes;
    },
    get instances() {
      return base.instances;
    },
    get workflows() {
      return base.workflows;
    },
    get metrics() {
      return base.metrics;
    },
    get notifier() {
      return base.notifier;
    },
    get secrets() {
      return base.secrets;
    },
    now: () => base.now(),
    sleep: (ms) => base.sleep(ms),
    log,
  };
}
