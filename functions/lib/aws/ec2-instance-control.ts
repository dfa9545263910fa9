/**
 * InstanceControl over EC2: the hard stop used to fence a node (STONITH), and the spare node
 * instances of the stack (topology role "removed": installed, running, PostgreSQL not started) that
 * alarm-driven scale out turns into standbys.
 */
import { DescribeInstancesCommand, type EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { NoCapacityError, type InstanceControl, type ProvisionedNode } from '../ports';
import type { Topology } from '../topology';

/** States on the way to a fence: the stop was accepted, the instance may still run a moment. */
const STOPPING_STATES = new Set(['stopping', 'shutting-down']);
/** States in which the instance runs nothing any more: fencing is achieved. */
const STOPPED_STATES = new Set(['stopped', 'terminated']);

export interface ForceStopTiming {
  /** How long forceStop waits for `stopped` before it fails (the fence step is retried). */
  deadlineMs: number;
  pollMs: number;
  sleep(ms: number): Promise<void>;
  /** The clock the deadline is read on (epoch ms). */
  now(): number;
}

const DEFAULT_TIMING: ForceStopTiming = {
  // Under the fence step's 120 s task timeout; a forced stop usually completes well within it.
  deadlineMs: 100_000,
  pollMs: 2_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => Date.now(),
};

export class Ec2InstanceControl implements InstanceControl {
  private readonly timing: ForceStopTiming;

  constructor(
    private readonly ec2: EC2Client,
    timing: Partial<ForceStopTiming> = {},
  ) {
    this.timing = { ...DEFAULT_TIMING, ...timing };
  }

  /**
   * Resolves once the instance is `stopped` (or terminated): a `stopping` instance may still be
   * running PostgreSQL for a while, and nothing may be promoted before it is gone. Fails after the
   * deadline, naming the state it is stuck in. Idempotent: an instance already stopping, stopped or
   * terminated is waited for, not stopped again.
   */
  async forceStop(instanceId: string): Promise<void> {
    let state: string | undefined;
    try {
      const out = await this.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: true }));
      state = out.StoppingInstances?.find((i) => i.InstanceId === instanceId)?.CurrentState?.Name;
    } catch (err) {
      if (!(err instanceof Error && err.name === 'IncorrectInstanceState')) throw err;
      // E.g. terminated, or still pending: only a stop under way or done leads to a fence.
      state = await this.state(instanceId);
      if (!state || !(STOPPING_STATES.has(state) || STOPPED_STATES.has(state)))
        throw new Error(`cannot force-stop instance ${instanceId} in state ${state ?? 'unknown'}: ${err.message}`, {
          cause: err,
        });
    }
    const deadline = this.timing.now() + this.timing.deadlineMs;
    while (!state || !STOPPED_STATES.has(state)) {
      if (this.timing.now() >= deadline)
        throw new Error(
          `instance ${instanceId} is still ${state ?? 'in an unknown state'} ${this.timing.deadlineMs} ms after its forced stop: not fenced yet`,
        );
      await this.timing.sleep(this.timing.pollMs);
      state = await this.state(instanceId);
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
