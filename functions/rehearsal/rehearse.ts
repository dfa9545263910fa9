/**
 * The rehearsal of the workflows' step Lambdas. Lambda makes a VPC function inactive after weeks
 * without an invocation, and its next invoke fails until the function's network interface is rebuilt
 * (minutes): the first real failover after a quiet month would fail or wait. So a schedule (weekly by
 * default) sends every step Lambda the rehearsal input (functions/lib/rehearsal.ts), which each answers
 * after its init without touching the cluster.
 *
 * A function that is inactive or pending refuses the invoke, and that invoke starts its reactivation:
 * it is invoked again every `retryDelayMs` until it answers or the deadline passes, and the result
 * says how long its reactivation took. Every function is invoked in the first round, so all
 * reactivations start at once. A function counts as failed when its invoke fails, times out, stays
 * not ready until the deadline, returns an error (a broken bundle, a missing variable) or answers
 * something that is not a rehearsal answer (a handler not built by lambda() ran its step).
 */
import { datum, type MetricSpec } from '../lib/metric-spec';
import { METRIC_NAMESPACE, type Deps } from '../lib/ports';
import { REHEARSAL_EVENT, isRehearsalAnswer } from '../lib/rehearsal';

/** What one invoke returned, as the invoker classifies it; an invoker never throws. */
export type InvokeOutcome =
  | { kind: 'answered'; payload: unknown }
  /** The function ran and failed (the invoke's FunctionError): its error type and message. */
  | { kind: 'function-error'; message: string }
  /** Inactive or pending (ResourceNotReadyException, a Pending state): this invoke starts reactivation. */
  | { kind: 'not-ready'; message: string }
  /** Throttled by Lambda: tried again like a function that is not ready, but no reactivation. */
  | { kind: 'throttled'; message: string }
  | { kind: 'timeout'; message: string }
  | { kind: 'invoke-error'; message: string };

/** Invokes a Lambda synchronously (RequestResponse), giving up after `timeoutMs`. */
export interface FunctionInvoker {
  invoke(functionName: string, payload: unknown, timeoutMs: number): Promise<InvokeOutcome>;
}

export type RehearsalOutcome =
  | 'answered'
  /** Not ready at first, answered once reactivated: ok, and `reactivationMs` says how long it took. */
  | 'reactivated'
  | 'function-error'
  | 'wrong-answer'
  | 'timeout'
  | 'invoke-error'
  /** Still refused (not ready or throttled) when the deadline came. */
  | 'not-ready';

export interface FunctionRehearsal {
  functionName: string;
  ok: boolean;
  outcome: RehearsalOutcome;
  attempts: number;
  /** Duration of the last invoke. */
  durationMs: number;
  /** From the first refused invoke (which started the reactivation) to the answer, or to the deadline. */
  reactivationMs?: number;
  coldStart?: boolean;
  initMs?: number;
  error?: string;
}

export interface RehearsalOptions {
  /** Invokes in flight at once. */
  concurrency: number;
  /** One invoke's limit: a rehearsal answer takes milliseconds, a cold start of a VPC Lambda seconds. */
  invokeTimeoutMs: number;
  /** Pause between two rounds of invokes of the functions still not ready. */
  retryDelayMs: number;
  /** Epoch ms after which no invoke starts (within the rehearsal Lambda's own timeout). */
  deadline: number;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const DEFAULT_OPTIONS = {
  concurrency: 8,
  invokeTimeoutMs: 30_000,
  retryDelayMs: 15_000,
} as const;

const RETRIED = new Set<InvokeOutcome['kind']>(['not-ready', 'throttled']);

/** Runs `fn` over `items` with at most `limit` calls in flight; results in the items' order. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Invokes every function with the rehearsal input, retrying those not ready until the deadline. */
export async function rehearseFunctions(
  names: string[],
  invoker: FunctionInvoker,
  opts: RehearsalOptions,
): Promise<FunctionRehearsal[]> {
  const attempts = new Map<string, number>();
  const refusedSince = new Map<string, number>();
  const lastRefusal = new Map<string, InvokeOutcome>();
  const done = new Map<string, FunctionRehearsal>();
  let pending = [...names];
  while (pending.length) {
    const round = await mapBounded(pending, opts.concurrency, async (name) => {
      const started = opts.now();
      const timeoutMs = Math.max(1, Math.min(opts.invokeTimeoutMs, opts.deadline - started));
      const outcome = await invoker.invoke(name, REHEARSAL_EVENT, timeoutMs);
      return { name, started, outcome, ended: opts.now() };
    });
    const again: string[] = [];
    for (const { name, started, outcome, ended } of round) {
      attempts.set(name, (attempts.get(name) ?? 0) + 1);
      const base = { functionName: name, attempts: attempts.get(name)!, durationMs: ended - started };
      if (RETRIED.has(outcome.kind)) {
        if (outcome.kind === 'not-ready' && !refusedSince.has(name)) refusedSince.set(name, started);
        lastRefusal.set(name, outcome);
        again.push(name);
        continue;
      }
      const since = refusedSince.get(name);
      const reactivation = since === undefined ? {} : { reactivationMs: ended - since };
      done.set(name, { ...base, ...reactivation, ...judge(outcome, since !== undefined) });
    }
    pending = again;
    if (!pending.length) break;
    if (opts.now() + opts.retryDelayMs >= opts.deadline) {
      for (const name of pending) {
        const since = refusedSince.get(name);
        const refusal = lastRefusal.get(name) as { message: string };
        done.set(name, {
          functionName: name,
          ok: false,
          outcome: 'not-ready',
          attempts: attempts.get(name)!,
          durationMs: 0,
          ...(since === undefined ? {} : { reactivationMs: opts.now() - since }),
          error: `still refused at the deadline: ${refusal.message}`,
        });
      }
      break;
    }
    await opts.sleep(opts.retryDelayMs);
  }
  return names.map((n) => done.get(n)!);
}

function judge(
  o: InvokeOutcome,
  reactivated: boolean,
): Pick<FunctionRehearsal, 'ok' | 'outcome' | 'coldStart' | 'initMs' | 'error'> {
  switch (o.kind) {
    case 'answered':
      if (!isRehearsalAnswer(o.payload))
        return {
          ok: false,
          outcome: 'wrong-answer',
          error: `answered ${JSON.stringify(o.payload)?.slice(0, 200)}, not a rehearsal answer: is its handler built by lambda()?`,
        };
      return {
        ok: true,
        outcome: reactivated ? 'reactivated' : 'answered',
        coldStart: o.payload.coldStart,
        initMs: o.payload.initMs,
      };
    case 'function-error':
    case 'timeout':
    case 'invoke-error':
      return { ok: false, outcome: o.kind, error: o.message };
    default:
      return { ok: false, outcome: 'invoke-error', error: `unexpected outcome ${o.kind}` };
  }
}

/** Published once per rehearsal; the alarm rehearsal-failed (functions/metrics/alarms.json) reads RehearsalFailures. */
export const REHEARSAL_METRICS = {
  RehearsalFailures: { name: 'RehearsalFailures', unit: 'Count', dimensions: ['Cluster'] },
  RehearsalReactivations: { name: 'RehearsalReactivations', unit: 'Count', dimensions: ['Cluster'] },
  RehearsalDuration: { name: 'RehearsalDuration', unit: 'Milliseconds', dimensions: ['Cluster'] },
} satisfies Record<string, MetricSpec>;

export interface RehearsalSummary {
  functions: number;
  failures: number;
  reactivations: number;
  durationMs: number;
  failed: FunctionRehearsal[];
}

/**
 * One rehearsal: invoke every function, log one line per function, publish the metrics, and notify
 * when a function failed.
 */
export async function runRehearsal(
  deps: Pick<Deps, 'cluster' | 'metrics' | 'notifier' | 'log'>,
  names: string[],
  invoker: FunctionInvoker,
  opts: RehearsalOptions,
): Promise<RehearsalSummary> {
  const t0 = opts.now();
  const results = await rehearseFunctions(names, invoker, opts);
  const durationMs = opts.now() - t0;
  for (const r of results) deps.log(r.ok ? 'rehearsal: function answered' : 'rehearsal: function failed', { ...r });
  const failed = results.filter((r) => !r.ok);
  const reactivations = results.filter((r) => r.reactivationMs !== undefined).length;
  const dims = { Cluster: deps.cluster };
  await deps.metrics.put(METRIC_NAMESPACE, [
    datum(REHEARSAL_METRICS.RehearsalFailures, failed.length, dims),
    datum(REHEARSAL_METRICS.RehearsalReactivations, reactivations, dims),
    datum(REHEARSAL_METRICS.RehearsalDuration, durationMs, dims),
  ]);
  const summary = { functions: results.length, failures: failed.length, reactivations, durationMs, failed };
  deps.log('rehearsal finished', { ...summary, failed: failed.map((f) => f.functionName) });
  if (failed.length)
    await deps.notifier.notify(
      `pgwarden ${deps.cluster}: rehearsal failed for ${failed.length} of ${results.length} step Lambdas`,
      {
        cluster: deps.cluster,
        what: 'The scheduled rehearsal could not invoke these workflow steps; a failover needing them would fail or wait.',
        failed: failed.map(({ functionName, outcome, error, attempts, reactivationMs }) => ({
          functionName,
          outcome,
          error,
          attempts,
          ...(reactivationMs === undefined ? {} : { reactivationMs }),
        })),
      },
    );
  return summary;
}
