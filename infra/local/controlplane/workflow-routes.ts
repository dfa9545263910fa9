/**
 * Control-plane routes of the switchover, rejoin, maintenance and scaling workflows: the same
 * operator triggers AWS invokes (functions/triggers/*), plus what only the lab does itself:
 * provisioning a node "instance" for scale out (Lab.addNode) and deprovisioning it after scale in.
 *
 * It also makes pgpool's failover_command wait for a switchover in progress: when a switch stops the
 * old primary, pgpool notices and fails over; its search for the new primary polls once a second, so
 * the hook returns only once the target is promoted and the first search finds it.
 */
import { InvalidEventError } from '../../../functions/triggers/common';
import * as maintenance from '../../../functions/triggers/maintenance';
import { checkFree, RefusedError } from '../../../functions/triggers/planned';
import * as rejoin from '../../../functions/triggers/rejoin';
import * as scale from '../../../functions/triggers/scale';
import * as switchover from '../../../functions/triggers/switchover';
import type { ExecutionRecord } from '../runner';
import { HttpError, type ControlPlane } from './server';

type Route = (body: unknown, url: URL, id?: string) => Promise<unknown>;

/** The state of a planned workflow inside which the primary is stopped and the target promoted. */
export const SWITCH_STATE = 'SwitchPrimary';
const MAX_WAIT_MS = 280_000; // under the HTTP clients' 300 s header timeout

export function register(cp: ControlPlane): void {
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

  cp.route('POST /v1/switchover', async (body) => {
    const b = obj(body);
    return trigger(() => switchover.handle(b, cp.deps()), b);
  });
  cp.route('POST /v1/rejoin', async (body) => {
    const b = obj(body);
    return trigger(() => rejoin.handle(b, cp.deps()), b);
  });
  cp.route('POST /v1/maintenance', async (body) => {
    const b = obj(body);
    return trigger(() => maintenance.handle(b, cp.deps()), b);
  });
  cp.route('POST /v1/scale', async (body) => {
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
    // Scale in: the lab deprovisions the node once the workflow has removed it.
    const r = (await trigger(() => scale.handle(b, cp.deps()), { wait: true })) as {
      executionName: string;
      execution?: { status: string; output?: { precheck?: { node?: string } } };
    };
    const gone = r.execution?.output?.precheck?.node;
    if (r.execution?.status === 'SUCCEEDED' && gone) cp.lab.removeNode(gone);
    return r;
  });

  // pgpool's failover_command waits for a switch in progress (see the header).
  const routes = (cp as unknown as { routes: Map<string, Route> }).routes;
  const key = 'POST /v1/triggers/pgpool';
  const original = routes.get(key);
  if (original) {
    cp.route(key, async (body, url, id) => {
      const r = await original(body, url, id);
      if (url.searchParams.get('wait')) await switchInProgress(cp);
      return r;
    });
  }
}

async function switchInProgress(cp: ControlPlane): Promise<void> {
  const lease = cp.lab.readTopology().lease;
  if (!lease) return;
  const rec = cp.runner.executions.get(lease.execution);
  if (!rec || rec.status !== 'RUNNING') return;
  const inSwitch = rec.steps.some((s) => s.state === SWITCH_STATE && s.endedAt === undefined);
  if (inSwitch) await cp.runner.waitFor(rec.name, SWITCH_STATE, 30_000);
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
