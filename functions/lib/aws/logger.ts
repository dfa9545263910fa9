/**
 * Structured Lambda logs (Powertools Logger): one JSON object per line with the service, level,
 * message, timestamp, the Lambda context (function name, request id, cold_start), the X-Ray trace id
 * (xray_trace_id, from _X_AMZN_TRACE_ID) and pgwarden's keys: cluster, execution, step. One logger per
 * container, shared by every invocation; `lambda()` (functions/lib/handler.ts) sets the per-invocation
 * keys. docs/aws.md has the Logs Insights query that reads one workflow execution in order.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { clusterIfSet, lambdaFunctionName } from '../env';
import type { Deps } from '../ports';

export const logger = new Logger({ serviceName: 'pgwarden' });

/** The Lambda context, as far as the logger reads it. */
export type LambdaContext = Parameters<Logger['addContext']>[0] & { functionName: string };

/** Deps.log over the logger: fields become top-level keys, an Error keeps its name, message and stack. */
export function powertoolsLog(l: Logger = logger): Deps['log'] {
  return (msg, fields = {}) => l.info(msg, errorsAsObjects(fields));
}

function errorsAsObjects(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) =>
      v instanceof Error ? [k, { name: v.name, message: v.message, stack: v.stack }] : [k, v],
    ),
  );
}

/** The step a Lambda runs: serverless names functions <service>-<stage>-<key>, e.g. failoverPromote. */
export function stepOf(functionName: string | undefined): string | undefined {
  return functionName?.split('-').pop() || undefined;
}

/**
 * Around one invocation: context and keys in, "step started", the step, "step finished" (or "step
 * failed" with the error) with its duration, keys out.
 */
export async function withInvocationLog<O>(
  event: unknown,
  context: LambdaContext | undefined,
  run: () => Promise<O>,
  l: Logger = logger,
): Promise<O> {
  const e = (event ?? {}) as { cluster?: unknown; executionName?: unknown };
  if (context) l.addContext(context);
  const keys: Record<string, string> = {};
  const cluster = clusterIfSet();
  if (typeof e.cluster === 'string') keys.cluster = e.cluster;
  else if (cluster) keys.cluster = cluster;
  if (typeof e.executionName === 'string') keys.execution = e.executionName;
  const step = stepOf(context?.functionName ?? lambdaFunctionName());
  if (step) keys.step = step;
  l.appendKeys(keys);
  const t0 = Date.now();
  try {
    l.info('step started');
    const out = await run();
    // A trigger starts the execution it names in its result: its last line joins that execution's logs.
    const started = (out as { executionName?: unknown } | undefined)?.executionName;
    l.info('step finished', {
      durationMs: Date.now() - t0,
      ...(typeof started === 'string' && !keys.execution ? { execution: started } : {}),
    });
    return out;
  } catch (err) {
    l.error('step failed', { durationMs: Date.now() - t0, error: err as Error });
    throw err;
  } finally {
    l.resetKeys();
  }
}
