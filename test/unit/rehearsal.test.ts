/**
 * The rehearsal of the step Lambdas (functions/rehearsal/rehearse.ts) over a scripted invoker and a
 * fake clock: who answered, who was reactivated and in how long, who failed, what is published and
 * notified.
 */
import type { MetricDatum } from '../../functions/lib/ports';
import { REHEARSAL_EVENT } from '../../functions/lib/rehearsal';
import {
  type FunctionInvoker,
  type InvokeOutcome,
  type RehearsalOptions,
  mapBounded,
  rehearseFunctions,
  runRehearsal,
} from '../../functions/rehearsal/rehearse';

const answer = (functionName: string, coldStart = true) => ({
  kind: 'answered' as const,
  payload: { pgwarden: 'rehearsal', functionName, coldStart, initMs: 12 },
});
const NOT_READY: InvokeOutcome = {
  kind: 'not-ready',
  message: 'ResourceNotReadyException: The function is inactive and its VPC connection is no longer available.',
};

/** Each function answers its script in order, the last entry for ever; each invoke takes 100 ms. */
function scripted(scripts: Record<string, InvokeOutcome[]>, clock: { t: number }) {
  const calls: { name: string; payload: unknown; timeoutMs: number }[] = [];
  const invoker: FunctionInvoker = {
    async invoke(name, payload, timeoutMs) {
      calls.push({ name, payload, timeoutMs });
      const s = scripts[name];
      const n = calls.filter((c) => c.name === name).length;
      clock.t += 100;
      return s[Math.min(n, s.length) - 1];
    },
  };
  return { invoker, calls };
}

function options(clock: { t: number }, extra: Partial<RehearsalOptions> = {}): RehearsalOptions {
  return {
    concurrency: 4,
    invokeTimeoutMs: 30_000,
    retryDelayMs: 15_000,
    deadline: clock.t + 120_000,
    now: () => clock.t,
    sleep: async (ms) => {
      clock.t += ms;
    },
    ...extra,
  };
}

function recordingDeps() {
  const puts: MetricDatum[][] = [];
  const notes: { subject: string; message: Record<string, unknown> }[] = [];
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    puts,
    notes,
    lines,
    deps: {
      cluster: 'prod',
      metrics: { put: async (_ns: string, d: MetricDatum[]) => void puts.push(d) },
      notifier: {
        notify: async (subject: string, message: Record<string, unknown>) => void notes.push({ subject, message }),
      },
      log: (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields }),
    },
  };
}

describe('rehearseFunctions', () => {
  it('sends every function the rehearsal input once when all answer, and never sleeps', async () => {
    // Prepare
    const clock = { t: 0 };
    const { invoker, calls } = scripted({ a: [answer('a')], b: [answer('b', false)] }, clock);
    const sleep = jest.fn(async () => undefined);

    // Act
    const results = await rehearseFunctions(['a', 'b'], invoker, options(clock, { sleep }));

    // Assess
    expect(calls.map((c) => [c.name, c.payload])).toEqual([
      ['a', REHEARSAL_EVENT],
      ['b', REHEARSAL_EVENT],
    ]);
    expect(results).toEqual([
      {
        functionName: 'a',
        ok: true,
        outcome: 'answered',
        attempts: 1,
        durationMs: expect.any(Number),
        coldStart: true,
        initMs: 12,
      },
      {
        functionName: 'b',
        ok: true,
        outcome: 'answered',
        attempts: 1,
        durationMs: expect.any(Number),
        coldStart: false,
        initMs: 12,
      },
    ]);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('retries a function that is not ready until it answers, and says how long its reactivation took', async () => {
    // Prepare: inactive twice (its first invoke starts the reactivation), then answers.
    const clock = { t: 1_000 };
    const { invoker, calls } = scripted(
      { inactive: [NOT_READY, NOT_READY, answer('inactive')], ok: [answer('ok')] },
      clock,
    );

    // Act
    const [inactive, ok] = await rehearseFunctions(['inactive', 'ok'], invoker, options(clock));

    // Assess: 3 invokes, 2 pauses of 15 s between the rounds.
    expect(calls.filter((c) => c.name === 'inactive')).toHaveLength(3);
    expect(calls.filter((c) => c.name === 'ok')).toHaveLength(1);
    expect(inactive).toMatchObject({ ok: true, outcome: 'reactivated', attempts: 3 });
    expect(inactive.reactivationMs).toBeGreaterThanOrEqual(30_000);
    expect(inactive.reactivationMs).toBeLessThan(31_000);
    expect(ok).toMatchObject({ ok: true, outcome: 'answered', attempts: 1 });
    expect(ok).not.toHaveProperty('reactivationMs');
  });

  it('retries a throttled function without calling it a reactivation', async () => {
    const clock = { t: 0 };
    const throttled: InvokeOutcome = { kind: 'throttled', message: 'TooManyRequestsException: Rate exceeded' };
    const { invoker } = scripted({ t: [throttled, answer('t')] }, clock);

    const [r] = await rehearseFunctions(['t'], invoker, options(clock));

    expect(r).toMatchObject({ ok: true, outcome: 'answered', attempts: 2 });
    expect(r).not.toHaveProperty('reactivationMs');
  });

  it('fails a function error, a wrong answer, a timeout, an invoke error, and a function still not ready at the deadline', async () => {
    // Prepare
    const clock = { t: 0 };
    const { invoker, calls } = scripted(
      {
        broken: [{ kind: 'function-error', message: 'EnvError: environment variable PGWARDEN_CLUSTER is not set' }],
        ranItsStep: [{ kind: 'answered', payload: { decision: 'false-alarm' } }],
        slow: [{ kind: 'timeout', message: 'no answer within 30000 ms' }],
        denied: [{ kind: 'invoke-error', message: 'AccessDeniedException: not authorized' }],
        stuck: [NOT_READY],
      },
      clock,
    );

    // Act
    const results = await rehearseFunctions(
      ['broken', 'ranItsStep', 'slow', 'denied', 'stuck'],
      invoker,
      options(clock, { deadline: 50_000 }),
    );

    // Assess
    expect(results.map((r) => [r.functionName, r.ok, r.outcome])).toEqual([
      ['broken', false, 'function-error'],
      ['ranItsStep', false, 'wrong-answer'],
      ['slow', false, 'timeout'],
      ['denied', false, 'invoke-error'],
      ['stuck', false, 'not-ready'],
    ]);
    expect(results[0].error).toBe('EnvError: environment variable PGWARDEN_CLUSTER is not set');
    expect(results[1].error).toMatch(/not a rehearsal answer: is its handler built by lambda\(\)\?/);
    expect(results[4].error).toMatch(/^still refused at the deadline: ResourceNotReadyException/);
    expect(results[4].reactivationMs).toBeGreaterThan(30_000);
    // Only the function not ready is invoked again, and no invoke starts past the deadline.
    expect(calls.filter((c) => c.name !== 'stuck')).toHaveLength(4);
    // Rounds at 0, 15.5, 30.6 and 45.7 s (15 s apart): the last one gets only what is left, 4.3 s.
    expect(calls.filter((c) => c.name === 'stuck').map((c) => c.timeoutMs)).toEqual([30_000, 30_000, 19_400, 4_300]);
    expect(clock.t).toBeLessThan(50_000);
  });

  it('gives no invoke more time than is left before the deadline', async () => {
    const clock = { t: 0 };
    const { invoker, calls } = scripted({ a: [answer('a')] }, clock);

    await rehearseFunctions(['a'], invoker, options(clock, { deadline: 5_000 }));

    expect(calls[0].timeoutMs).toBe(5_000);
  });
});

describe('mapBounded', () => {
  it('keeps at most `limit` calls in flight and the results in order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapBounded(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async (i) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 1 + (i % 4)));
        inFlight--;
        return i * 2;
      },
    );
    expect(most).toBe(3);
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
  });
});

describe('runRehearsal', () => {
  it('publishes no failure, logs one line per function and notifies nobody when every step answers', async () => {
    // Prepare
    const clock = { t: 0 };
    const { invoker } = scripted({ a: [answer('a')], b: [answer('b')] }, clock);
    const { deps, puts, notes, lines } = recordingDeps();

    // Act
    const summary = await runRehearsal(deps, ['a', 'b'], invoker, options(clock));

    // Assess
    expect(summary).toMatchObject({ functions: 2, failures: 0, reactivations: 0, failed: [] });
    expect(puts).toEqual([
      [
        { name: 'RehearsalFailures', value: 0, unit: 'Count', dimensions: { Cluster: 'prod' } },
        { name: 'RehearsalReactivations', value: 0, unit: 'Count', dimensions: { Cluster: 'prod' } },
        { name: 'RehearsalDuration', value: expect.any(Number), unit: 'Milliseconds', dimensions: { Cluster: 'prod' } },
      ],
    ]);
    expect(lines.filter((l) => l.msg === 'rehearsal: function answered').map((l) => l.fields?.functionName)).toEqual([
      'a',
      'b',
    ]);
    expect(notes).toEqual([]);
  });

  it('counts failures and reactivations, and notifies once with each failed function and why', async () => {
    // Prepare
    const clock = { t: 0 };
    const { invoker } = scripted(
      {
        'pgwarden-prod-dev-failoverAssess': [NOT_READY, answer('pgwarden-prod-dev-failoverAssess')],
        'pgwarden-prod-dev-failoverPromote': [
          { kind: 'function-error', message: 'Runtime.ImportModuleError: Cannot find module' },
        ],
      },
      clock,
    );
    const { deps, puts, notes, lines } = recordingDeps();

    // Act
    const summary = await runRehearsal(
      deps,
      ['pgwarden-prod-dev-failoverAssess', 'pgwarden-prod-dev-failoverPromote'],
      invoker,
      options(clock),
    );

    // Assess
    expect(summary).toMatchObject({ functions: 2, failures: 1, reactivations: 1 });
    expect(puts[0].map((d) => [d.name, d.value])).toEqual([
      ['RehearsalFailures', 1],
      ['RehearsalReactivations', 1],
      ['RehearsalDuration', expect.any(Number)],
    ]);
    expect(lines.find((l) => l.msg === 'rehearsal: function failed')?.fields).toMatchObject({
      functionName: 'pgwarden-prod-dev-failoverPromote',
      outcome: 'function-error',
    });
    expect(notes).toEqual([
      {
        subject: 'pgwarden prod: rehearsal failed for 1 of 2 step Lambdas',
        message: expect.objectContaining({
          cluster: 'prod',
          failed: [
            {
              functionName: 'pgwarden-prod-dev-failoverPromote',
              outcome: 'function-error',
              error: 'Runtime.ImportModuleError: Cannot find module',
              attempts: 1,
            },
          ],
        }),
      },
    ]);
  });
});
