/**
 * InstanceControl over EC2: the hard stop used to fence a node (STONITH), and the spare node
 * instances of the stack (topology role "removed": installed, running, PostgreSQL not started) that
 * alarm-driven scale out turns into standbys.
 */
import { DescribeInstancesCommand, type EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { NoCapacityError, type InstanceControl, type ProvisionedNode } from '../ports';
import type { Topology } from '../topology';

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

  /** The first running spare; NoCapacity (naming every spare's state) when there is none. */
  async provision(t: Topology): Promise<ProvisionedNode> {
    const spares = t.nodes.filter((n) => n.role === 'removed');
    if (!spares.length)
      throw new NoCapacityError('no spare node instance in the topology (stack parameter SpareNodes = 0?)');
    const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: spares.map((n) => n.instanceId) }));
    const states = new Map<string, string | undefined>();
    for (const r of out.Reservations ?? [])
      for (const i of r.Instances ?? []) if (i.InstanceId) states.set(i.InstanceId, i.State?.Name);
    const ready = spares.find((n) => states.get(n.instanceId) === 'running');
    if (!ready)
      throw new NoCapacityError(
        `no running spare node instance (${spares.map((n) => `${n.name} ${n.instanceId}: ${states.get(n.instanceId) ?? 'not found'}`).join(', ')})`,
      );
    return {
      name: ready.name,
      host: ready.host,
      port: ready.port,
      backendId: ready.backendId,
      instanceId: ready.instanceId,
    };
  }

  private async state(instanceId: string): Promise<string | undefined> {
    const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  }
}
