/**
 * Scheduled custom-metrics Lambda (EventBridge, every minute): one round of functions/metrics over the
 * cluster. The AWS wiring is built on first use and kept for the container, like the counters that
 * the per-second rates need.
 */
import type { Deps } from '../lib/ports';
import { collectMetrics } from './collect';

let deps: Deps | undefined;

export const handler = async (): Promise<{ published: number; queryErrors: number }> => {
  if (!deps) {
    const { awsDeps } = await import('../lib/aws/deps');
    deps = awsDeps();
  }
  const data = await collectMetrics(deps);
  const queryErrors = data.find((d) => d.name === 'MetricQueryErrors')?.value ?? 0;
  return { published: data.length, queryErrors };
};
