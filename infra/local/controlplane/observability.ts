/**
 * The lab's metrics round and what reads it: the control plane runs the custom SQL metrics
 * (functions/metrics, the scheduled Lambda in AWS) every `metricsIntervalMs` into its metric store, so
 * the alarm evaluator sees them too; `GET /v1/metrics/current` (pgwarden metrics) and `GET /metrics`
 * (Prometheus text format) serve the current value of every series.
 */
import { collectMetrics } from '../../../functions/metrics/collect';
import { currentValues, prometheusText } from '../../../functions/metrics/current';
import { loadDefinitions } from '../../../functions/metrics/definitions';
import { RawBody, type ControlPlane } from './server';

export const DEFAULT_METRICS_INTERVAL_MS = 5000;

export function register(cp: ControlPlane): void {
  const intervalMs = cp.lab.config().profile.metricsIntervalMs ?? DEFAULT_METRICS_INTERVAL_MS;
  // A series unpublished for a few rounds describes a past state (a node that is gone).
  const maxAgeMs = Math.max(3 * intervalMs, 3 * cp.lab.config().profile.probeIntervalMs, 15_000);
  const help = new Map(loadDefinitions().map((d) => [d.name, d.help]));
  let running = false;
  const round = async () => {
    if (running) return;
    running = true;
    try {
      await collectMetrics(cp.deps());
    } catch (e) {
      cp.lab.log(`metrics round failed: ${(e as Error).message}`);
    } finally {
      running = false;
    }
  };
  if (intervalMs > 0) {
    setTimeout(() => void round(), 1000).unref();
    setInterval(() => void round(), intervalMs).unref();
  }
  const current = () => currentValues(cp.metrics.series.values(), Date.now(), maxAgeMs);
  cp.route('GET /v1/metrics/current', async () => ({
    cluster: cp.lab.config().cluster,
    intervalMs,
    metrics: current(),
  }));
  cp.route('GET /metrics', async () => {
    const { contentType, body } = await prometheusText(current(), (n) => help.get(n));
    return new RawBody(contentType, body);
  });
}
