/**
 * Running a node action (an infra/node script, through SSM Run Command in AWS) from a step: one
 * implementation for the failover and the planned workflows. A script that exits non-zero is a
 * NodeActionFailed naming the node, the action and the script's last words; a node that could not be
 * reached (the transport failed) rejects with the transport's error, so that a caller can tell "it
 * ran and said no" from "it did not run".
 */
import { parseResult } from './node-result';
import type { Deps, NodeAction } from './ports';
import { settings } from './settings';

export class NodeActionFailed extends Error {
  constructor(
    readonly action: NodeAction,
    readonly node: string,
    /** The script's last line on stderr, or its exit code. */
    readonly why: string,
  ) {
    super(`${action} on ${node} failed: ${why}`);
    this.name = 'NodeActionFailed';
  }
}

/** Run `action` on `node` and return the key=value pairs of its `result` line on its `result` line; non-zero exit: NodeActionFailed. */
export async function nodeAction(
  deps: Pick<Deps, 'nodes'>,
  node: { name: string; instanceId: string },
  action: NodeAction,
  params: Record<string, string>,
  timeoutMs = settings().nodeCommandTimeoutMs,
): Promise<Record<string, string>> {
  const r = await deps.nodes.run(node.instanceId, action, params, { timeoutMs });
  if (!r.ok) throw new NodeActionFailed(action, node.name, r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`);
  return parseResult(r.stdout);
}
