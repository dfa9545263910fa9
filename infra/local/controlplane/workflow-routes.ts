/**
 * Control-plane routes of the switchover, rejoin, maintenance and scaling workflows: the same
 * operator triggers AWS invokes (functions/triggers/*), plus what only the lab does itself:
 * provisioning a node "instance" for scale out (Lab.addNode) and deprovisioning it after scale in.
 * (pgpool's failover_command during a planned switch: functions/triggers/pgpool-hook.ts.)
 */
import { InvalidEventError } from '../../../functions/triggers/common';
import * as maintenance from '../../../functions/triggers/maintenance';
import { checkFree, RefusedError } from '../../../functions/triggers/planned';
import * as rejoin from '../../../functions/triggers/rejoin';
import * as scale from '../../../functions/triggers/scale';
import * as switchover from '../../../functions/triggers/switchover';
import type { ExecutionRecord } from '../runner';
import { HttpError, type Routes } from './guard';
import type { ControlPlane } from './server';

const MAX_WAIT_MS = 280_000; // under the HTTP clients' 300 s header timeout

export function workflowRoutes(cp: ControlPlane): Routes {
  const started = async (r: { executionName: string }, body: { wait?: unknown }) => {
    if (!body.wait) return r;
    const rec = await cp.runner.waitFor(r.executionName, null, MAX_WAIT_MS);
    return outcome(cp, r, rec);
  };
  const trigger = async <T extends { executionName: string }>(fn: () => Promise<T>, body: { wait?: unknown }) => {
    try {
      return await started(await fn(), body);
    } catch (e) {
      if (e instanceof RefusedError) throw new HttpError(409, e.message);
      throw e;
    }
  };

  return {
    'POST /v1/switchover': async (body) => {
      const b = obj(body);
      return trigger(() => switchover.handle(b, cp.deps()), b);
    },
    'POST /v1/rejoin': async (body) => {
      const b = obj(body);
      return trigger(() => rejoin.handle(b, cp.deps()), b);
    },
    'POST /v1/maintenance': async (body) => {
      const b = obj(body);
      return trigger(() => maintenance.handle(b, cp.deps()), b);
    },
    'POST /v1/scale': async (body) => {
      const b = obj(body);
      if (b.direction === 'out') {
        if (b.node !== undefined) throw new HttpError(400, 'the lab names new nodes itself: scale out takes no node');
        try {
          await checkFree(cp.deps(), 'scale-out');
        } catch (e) {
          throw new HttpError(409, (e as Error).message);
        }
        // The lab's stand-in for launching an instance.
        const n = cp.lab.addNode();
        const node = { ...n, host: '127.0.0.1', instanceId: `lab:${n.name}` };
        try {
          return await trigger(() => scale.handle({ ...b, node }, cp.deps()), b);
        } catch (e) {
          cp.lab.removeNode(n.name);
          throw e;
        }
      }
      // Scale in: the lab deprovisions the node once the workflow has removed it (in the background
      // when the caller does not wait, so that the CLI can stream the steps).
      const r = await trigger(() => scale.handle(b, cp.deps()), {});
      const done = cp.runner.waitFor(r.executionName, null, b.wait ? MAX_WAIT_MS : 3_600_000).then((rec) => {
        const gone = (rec?.output as { precheck?: { node?: string } } | undefined)?.precheck?.node;
        if (rec?.status === 'SUCCEEDED' && gone) cp.lab.removeNode(gone);
        return rec;
      });
      if (!b.wait) {
        done.catch((e: Error) => cp.lab.log(`scale in: deprovisioning failed: ${e.message}`));
        return r;
      }
      return outcome(cp, r, await done);
    },
  };
}

function outcome(cp: ControlPlane, r: { executionName: string }, rec: ExecutionRecord | undefined) {
  if (!rec) return r;
  const summary = cp.runner.summary(rec);
  if (rec.status === 'FAILED' && /Refused$/.test(rec.error?.Error ?? '')) {
    // The refusal's reason, as NotifyFailure sent it.
    const sent = cp.notifier.sent.find((n) => n.message.execution === rec.name && n.message.outcome === 'refused');
    const why =
      typeof sent?.message.cause === 'string' ? sent.message.cause : refusalText(rec.error?.Cause ?? 'refused');
    throw new HttpError(409, why);
  }
  return { ...r, execution: summary };
}

/** "Refused: {\"errorMessage\": ...}" or "Refused: message" -> message. */
function refusalText(s: string): string {
  const m = /^[A-Za-z]+: ([\s\S]*)$/.exec(s);
  const rest = m ? m[1] : s;
  try {
    const j = JSON.parse(rest) as { errorMessage?: string; message?: string };
    return j.errorMessage ?? j.message ?? rest;
  } catch {
    return rest;
  }
}

function obj(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidEventError('request body must be a JSON object');
  return body as Record<string, unknown>;
}
