/**
 * Scheduled custom-metrics Lambda (EventBridge, every minute): one round of functions/metrics over the
 * cluster. The AWS wiring is built on first use and kept for the container, like the counters that
 * the per-second rates need.
 */
import type { LambdaContext } from '../lib/aws/logger';
import type { Deps } from '../lib/ports';
import { collectMetrics } from './collect';

let deps: Deps | undefined;

export const handler = async (
  event?: unknown,
  context?: LambdaContext,
): Promise<{ published: number; queryErrors: number }> => {
  const { withInvocationLog } = await import('../lib/aws/logger');
  if (!deps) {
    const { awsDeps } = await import('../lib/aws/deps');
    deps = awsDeps();
  }
  const d = deps;
  return withInvocationLog(event, context, async () => {
    const data = await collectMetrics(d);
    const queryErrors = data.find((x) => x.name === 'MetricQueryErrors')?.value ?? 0;
    return { published: data.length, queryErrors };
  });
};
