/**
 * EC2 Instance State-change Notification -> failover (an instance of the cluster stopping or
 * terminating) or rejoin (an instance of the cluster running again). Instances that are not members
 * of the cluster are ignored with a reason (EventBridge cannot filter on tags; this re-checks).
 */
import { lambda } from '../lib/handler';
import type { Deps } from '../lib/ports';
import { InvalidEventError, isObject, startFailover, type TriggerOutcome } from './common';

const DOWN = ['stopping', 'stopped', 'shutting-down', 'terminated'];

export type Ec2Outcome = TriggerOutcome | { action: 'rejoin'; node: string; started: boolean; executionName: string };

export async function handle(event: unknown, deps: Deps): Promise<Ec2Outcome> {
  if (!isObject(event)) throw new InvalidEventError('event must be a JSON object');
  if (event.source !== 'aws.ec2' || event['detail-type'] !== 'EC2 Instance State-change Notification') {
    throw new InvalidEventError(
      `not an EC2 Instance State-change Notification (source=${String(event.source)}, detail-type=${String(event['detail-type'])})`,
    );
  }
  const d = event.detail;
  if (!isObject(d) || typeof d['instance-id'] !== 'string' || typeof d.state !== 'string') {
    throw new InvalidEventError('EC2 event has no detail.instance-id or detail.state');
  }
  const topo = await deps.topology.get(deps.cluster);
  const node = topo.nodes.find((n) => n.instanceId === d['instance-id']);
  if (!node)
    return { action: 'ignored', reason: `instance ${d['instance-id']} is not a node of cluster ${deps.cluster}` };
  if (DOWN.includes(d.state)) {
    return startFailover(deps, {
      source: 'ec2',
      reason: `instance ${d['instance-id']} (${node.name}) is ${d.state}`,
      suspect: node.name,
      at: typeof event.time === 'string' && !Number.isNaN(Date.parse(event.time)) ? new Date(event.time) : undefined,
      detail: { instanceId: d['instance-id'], state: d.state },
    });
  }
  if (d.state === 'running') {
    if (node.role !== 'fenced' && !node.stale)
      return { action: 'ignored', reason: `${node.name} is running and is a ${node.role}: nothing to rejoin` };
    const { startRejoin } = await import('./rejoin-start');
    return startRejoin(deps, node.name, `instance ${d['instance-id']} is running again`);
  }
  return { action: 'ignored', reason: `state ${d.state} of ${node.name} needs no action` };
}

export const handler = lambda(handle);
