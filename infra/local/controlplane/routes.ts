/**
 * The control plane's own routes: health and status, the event bus and the triggers, the operator's
 * failover / pause / resume, executions, fault injection, sensor switches, notifications, metrics,
 * traces and the digest. The workflows' routes are in workflow-routes.ts, the metrics round's in
 * observability.ts; the HTTP plumbing that dispatches to them is guard.ts.
 */
import * as operator from '../../../functions/triggers/operator';
import * as pgpoolHook from '../../../functions/triggers/pgpool-hook';
import { ms, sleep } from '../aws-sim';
import { latestDigest } from './digest-route';
import { HttpError, type Routes } from './guard';
import type { BusEvent } from './events';
import type { SensorSwitches } from './sensors';
import type { ControlPlane } from './server';

export function coreRoutes(cp: ControlPlane): Routes {
  const digest = latestDigest(cp.lab);
  return {
    'GET /v1/health': async () => ({ ok: true, dir: cp.lab.dir, pid: process.pid }),
    'GET /v1/status': async () => ({
      ...(await cp.lab.status()),
      alarms: cp.monitor.alarmStates(),
      sensors: cp.switches,
      executions: cp.runner.history().slice(-10),
    }),
    'GET /v1/topology': async () => cp.lab.readTopology(),
    'POST /v1/events': async (body) => {
      if (!isEvent(body)) throw new HttpError(400, 'an event needs source, detail-type and detail');
      return cp.bus.put(body);
    },
    'POST /v1/triggers/pgpool': async (body, url) => {
      if (!cp.switches.pgpool) return { action: 'ignored', reason: 'sensor pgpool is switched off' };
      // aws-sim: pgpool's hook runs `aws lambda invoke` of the pgpool-hook Lambda.
      if (cp.lambdaSim) {
        await sleep(ms('pgpoolHookCli'));
        await cp.lambdaSim.invoke('PgpoolHook');
      }
      const r = await pgpoolHook.handle(body, cp.deps());
      // pgpool waits in its failover_command until the workflow has promoted (or decided not to),
      // so that its own search for the primary finds the new one at once.
      // A standby's failure needs no search for the primary: pgpool goes on at once.
      if (url.searchParams.get('wait') && 'executionName' in r && r.suspect === cp.lab.readTopology().primary)
        await cp.runner.waitFor(r.executionName, 'PromoteCandidate', 60_000);
      return r;
    },
    'POST /v1/failover': async (body) => operatorCommand(cp, { ...(body as object), action: 'failover' }),
    'POST /v1/pause': async (body) => {
      await operatorCommand(cp, { ...(body as object), action: 'pause' });
      return { paused: true };
    },
    'POST /v1/resume': async (body) => {
      await operatorCommand(cp, { ...(body as object), action: 'resume' });
      return { paused: false };
    },
    'GET /v1/executions': async () => ({
      executions: cp.runner.history(),
    }),
    'GET /v1/executions/:id': async (_b, url, id) => {
      const e = cp.runner.find(id!);
      if (!e) throw new HttpError(404, `no execution ${id}`);
      const wait = Math.min(Number(url.searchParams.get('waitMs') ?? 0), 120_000);
      const after = url.searchParams.get('after');
      // ?after=N: answer once more than N steps have finished (the CLI streams steps this way).
      if (wait > 0 && after !== null) await cp.runner.waitForSteps(e.name, Number(after), wait);
      else if (wait > 0) await cp.runner.waitFor(e.name, null, wait);
      return wait > 0 ? cp.runner.find(id!) : e;
    },
    // --dry-run of an operator command: the trigger and the first step against throw-away ports.
    'POST /v1/dry-run': async (body) => operator.handle({ ...(body as object), dryRun: true }, cp.deps()),
    'POST /v1/faults': async (body) => {
      const b = body as { state?: unknown; times?: unknown };
      if (typeof b?.state !== 'string' || typeof b.times !== 'number')
        throw new HttpError(400, 'a fault needs state (string) and times (number)');
      cp.runner.injectFault({ state: b.state, times: b.times });
      return { injected: b };
    },
    'POST /v1/sensors': async (body) => {
      const b = (body ?? {}) as Partial<Record<keyof SensorSwitches, unknown>>;
      for (const k of Object.keys(b)) {
        if (!(k in cp.switches) || typeof b[k as keyof SensorSwitches] !== 'boolean')
          throw new HttpError(400, `unknown sensor switch ${k}`);
      }
      Object.assign(cp.switches, b);
      return cp.switches;
    },
    'GET /v1/notifications': async () => ({ notifications: cp.notifier.sent }),
    'GET /v1/events': async () => ({ events: cp.bus.log }),
    'GET /v1/metrics': async (_b, url) => {
      const name = url.searchParams.get('name');
      const out = [...cp.metrics.series.values()].filter((s) => !name || s.name === name);
      return { series: out.map((s) => ({ ...s, samples: s.samples.slice(-600) })) };
    },
    'GET /v1/traces': async (_b, url) => {
      const limit = Number(url.searchParams.get('limit') ?? 20);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new HttpError(400, 'limit must be 1..500');
      return { traces: cp.traces.recent(limit), received: cp.traces.received };
    },
    'GET /v1/digest': async () => digest(),
    'GET /v1/traces/:id': async (_b, _url, id) => {
      const t = cp.traces.get(id!);
      if (!t) throw new HttpError(404, `no trace ${id}`);
      return t;
    },
  };
}

/** An operator command as the operator trigger takes it; `wait` answers once the workflow has ended. */
async function operatorCommand(cp: ControlPlane, body: unknown) {
  const b = body as { wait?: boolean };
  const r = await operator.handle(body, cp.deps());
  if (b.wait && 'executionName' in r) {
    const rec = await cp.runner.waitFor(r.executionName, null, 120_000);
    return { ...r, execution: rec ? cp.runner.summary(rec) : undefined };
  }
  return r;
}

function isEvent(b: unknown): b is BusEvent {
  const e = b as BusEvent;
  return (
    !!e &&
    typeof e === 'object' &&
    typeof e.source === 'string' &&
    typeof e['detail-type'] === 'string' &&
    typeof e.detail === 'object'
  );
}
