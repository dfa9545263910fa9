/** CLI of the switchover, rejoin, maintenance and scaling workflows. */
import { UsageError } from './cli';

export async function main(cmd: string, _argv: string[]): Promise<number> {
  throw new UsageError(`"${cmd}" is not available yet`);
}
