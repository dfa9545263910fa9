/** InstanceControl over EC2: the hard stop used to fence a node (STONITH). */
import { DescribeInstancesCommand, type EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import type { InstanceControl } from '../ports';

/** States in which the instance can no longer serve writes: fencing is already achieved. */
const FENCED_STATES = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

export class Ec2InstanceControl implements InstanceControl {
  constructor(private readonly ec2: EC2Client) {}

  /**
   * Resolves once EC2 accepted the forced stop (the instance is `stopping`), not when it is `stopped`.
   * Idempotent: an instance already stopping, stopped or terminated counts as fenced.
   */
  async forceStop(instanceId: string): Promise<void> {
    try {
      await this.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: true }));
    } catch (err) {
      if (!(err instanceof Error && err.name === 'IncorrectInstanceState')) throw err;
      // E.g. terminated, or still pending: only the former means the node is fenced.
      const state = await this.state(instanceId);
      if (state && FENCED_STATES.has(state)) return;
      throw new Error(`cannot force-stop instance ${instanceId} in state ${state ?? 'unknown'}: ${err.message}`, {
        cause: err,
      });
    }
  }

  private async state(instanceId: string): Promise<string | undefined> {
    const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  }
}
