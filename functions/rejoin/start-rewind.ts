/**
 * Start bringing the node back on the primary's timeline (rejoin.sh: pg_rewind, or a fresh
 * pg_basebackup when rewind is impossible or asked for; then it starts as a standby and streams). The
 * command may run far longer than a Lambda may (a basebackup of a large database), so this step only
 * starts it, under a deadline of REWIND_TIMEOUT_MS; RewindNode (rewind.ts) waits for it. A retried
 * start finds the command this execution already started instead of starting a second rewind. The node
 * is detached in every pgpool first and stays detached until it has caught up.
 */
import { lambda } from '../lib/handler';
import { startLongCommand } from '../lib/long-command';
import type { Deps } from '../lib/ports';
import { nodeByName } from '../lib/topology';
import { holdLease, primaryOf } from '../planned/common';
import { inEveryPgpool } from '../planned/pgpool';
import type { RejoinState } from './types';

/** How long a rewind or basebackup may take, from its first start to its end (the workflow's TimeoutSeconds is 7200). */
export const REWIND_TIMEOUT_MS = 3_600_000;

export async function step(state: RejoinState, deps: Deps) {
  const t = await holdLease(deps, 'rejoin', state.executionName);
  const node = nodeByName(t, state.node);
  const primary = primaryOf(t);
  // Not routed to while it is rewound (a pgpool may have kept a fenced node attached).
  await inEveryPgpool(deps, t, 'pgpool-detach', node).catch(() => undefined);
  return startLongCommand(
    deps,
    node,
    'rejoin',
    {
      PRIMARY_HOST: primary.host,
      PRIMARY_PORT: String(primary.port),
      METHOD: state.method ?? 'auto',
      WAIT_SECONDS: '300',
    },
    { timeoutMs: REWIND_TIMEOUT_MS, requestId: `${state.executionName}:rejoin:${node.name}` },
  );
}

export const handler = lambda(step);
