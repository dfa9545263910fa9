/**
 * X-Ray for the Lambdas' AWS SDK clients: in Lambda (active tracing) every SDK call becomes a
 * subsegment with its timing, so a failover's SSM and Step Functions calls show in its trace.
 * Outside Lambda (unit tests, the lab) clients stay as they are: there is no segment to attach to.
 */
import { captureAWSv3Client } from 'aws-xray-sdk-core';
import { lambdaFunctionName, type EnvSource } from '../env';

export function tracedClient<T extends object>(client: T, env?: EnvSource): T {
  if (!lambdaFunctionName(env)) return client;
  return captureAWSv3Client(client as Parameters<typeof captureAWSv3Client>[0]) as unknown as T;
}
