/**
 * The cluster's state machines, found by name (pgwarden-<cluster>-<workflow>, infra/aws/naming.js)
 * with ListStateMachines, every page: for the operator's CLI, which knows only the cluster. Lambdas
 * are given the ARNs in their environment instead (ListStateMachines has no resource scope).
 */
import { ListStateMachinesCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { WORKFLOWS } from '../env';
import type { StateMachineArns } from './sfn-executions';

export class SfnStateMachines {
  constructor(private readonly sfn: SFNClient) {}

  /** The cluster's state machines, by workflow. */
  async list(cluster: string): Promise<StateMachineArns> {
    const out: StateMachineArns = {};
    let nextToken: string | undefined;
    do {
      const r = await this.sfn.send(new ListStateMachinesCommand({ nextToken }));
      for (const m of r.stateMachines ?? []) {
        const wf = WORKFLOWS.find((w) => m.name === `pgwarden-${cluster}-${w}`);
        if (wf && m.stateMachineArn) out[wf] = m.stateMachineArn;
      }
      nextToken = r.nextToken;
    } while (nextToken);
    return out;
  }
}
