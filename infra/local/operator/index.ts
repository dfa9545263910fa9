/** Entry of the operator commands from bin/pgwarden: the terminal as Io, the target from the flags. */
import { createInterface } from 'node:readline/promises';
import { Lab } from '../lab';
import { runOperator, UsageError, type Io, type TargetOptions } from './commands';
import { LabTarget } from './lab-target';
import type { OperatorTarget } from './target';

export function makeTarget(o: TargetOptions): OperatorTarget {
  if (!o.aws) return new LabTarget(new Lab().apiUrl);
  const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError('--aws needs --region (or AWS_REGION)');
  // The AWS SDK is loaded only for AWS targets: lab commands stay quick to start.
  const { AwsTarget } = require('./aws-target') as typeof import('./aws-target');
  return new AwsTarget({
    region,
    cluster: o.cluster ?? process.env.PGWARDEN_CLUSTER ?? 'main',
    stage: o.stage ?? process.env.PGWARDEN_STAGE ?? 'dev',
  });
}

export function terminalIo(): Io {
  return {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    interactive: process.stdin.isTTY === true,
    async ask(q) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(q);
      } finally {
        rl.close();
      }
    },
  };
}

export function main(cmd: string, argv: string[]): Promise<number> {
  return runOperator(cmd, argv, terminalIo(), makeTarget);
}
