/**
 * A workflow step is a plain function (input, deps) -> output. `lambda()` wraps it into the AWS
 * handler with the default AWS wiring, created lazily on first use; the lab calls the step directly
 * with its own wiring.
 */
import type { LambdaContext } from './aws/logger';
import { checkEnv, lambdaFunctionName } from './env';
import type { Deps } from './ports';
import { isRehearsal, type RehearsalAnswer } from './rehearsal';
import { settings } from './settings';

export type Step<I, O> = (input: I, deps: Deps) => Promise<O>;

/**
 * What a step does for a warm-up invoke besides its cold start, e.g. open the SQL sessions it will use
 * (functions/lib/session-cache.ts). It never fails the warm-up: an error is logged.
 */
export type Warm = (deps: Deps) => Promise<void>;

/**
 * Each invocation logs through Powertools Logger (functions/lib/aws/logger.ts): "step started" and
 * "step finished"/"step failed", and every deps.log line, with cluster, execution, step, cold_start
 * and the X-Ray trace id.
 *
 * The rehearsal input (functions/lib/rehearsal.ts) is answered without calling the step, once the
 * container's init has run (the bundle loaded, the AWS wiring imported and built) and the configuration
 * has been read whole (every variable of functions/lib/env.ts and the step timings of settings.ts): a
 * broken bundle or a missing or malformed variable fails the rehearsal as it would fail the step.
 * Nothing is called: no AWS service, no database.
 */
export function lambda<I, O>(
  step: Step<I, O>,
  warm?: Warm,
): (event: I, context?: LambdaContext) => Promise<O | RehearsalAnswer> {
  let deps: Deps | undefined;
  let initMs = 0;
  let invocations = 0;
  return async (event: I, context?: LambdaContext) => {
    const coldStart = invocations++ === 0;
    const t0 = Date.now();
    const { withInvocationLog, logger } = await import('./aws/logger');
    if (!deps) {
      const { awsDeps } = await import('./aws/deps');
      deps = awsDeps();
      initMs = Date.now() - t0;
    }
    if (isRehearsal(event)) {
      if (context) logger.addContext(context);
      try {
        checkEnv();
        settings();
      } catch (err) {
        logger.error('rehearsal failed', { error: err as Error });
        throw err;
      }
      const answer: RehearsalAnswer = {
        pgwarden: 'rehearsal',
        functionName: context?.functionName ?? lambdaFunctionName() ?? 'unknown',
        coldStart,
        initMs,
      };
      logger.info('rehearsal answered', { ...answer });
      return answer;
    }
    // A warm-up invoke (failover.asl.json's FenceAndWarm) pays the cold start (imports and clients)
    // and what the step's warm() prepares.
    const d = deps;
    if (isWarmup(event)) return (await answerWarmup(warm, d)) as O;
    return withInvocationLog(event, context, () => step(event, d));
  };
}

/** A warm-up's answer, after the step's warm() if it has one (its failure is logged: the step runs cold). */
export async function answerWarmup(warm: Warm | undefined, deps: Deps, label = ''): Promise<{ warm: true }> {
  if (warm)
    await warm(deps).catch((e) => deps.log(`${label}warm-up failed (the step runs cold)`, { error: String(e) }));
  return { warm: true };
}

/** The input of a warm-up Task: `{"warmup": true}`, nothing else. */
export function isWarmup(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as { warmup?: unknown }).warmup === true &&
    Object.keys(event).length === 1
  );
}

/** A step failure the workflow should not retry (the ASL's Retry lists only other errors). */
export class StepRefusal extends Error {
  constructor(
    public readonly code: string,
    msg: string,
  ) {
    super(msg);
    this.name = code;
  }
}

/**
 * The message of a failed step as a Catch hands it on: Step Functions puts the Lambda's error JSON
 * (`{"errorMessage": ...}`) in `Cause`; anything else is returned as it is.
 */
export function causeOf(c: string | undefined): string {
  if (!c) return 'unknown';
  try {
    const j = JSON.parse(c) as { errorMessage?: string };
    return j.errorMessage ?? c;
  } catch {
    return c;
  }
}
