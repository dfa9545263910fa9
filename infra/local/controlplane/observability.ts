/**
 * The lab's metrics round and what reads it: the control plane runs the custom SQL metrics
 * (functions/metrics, the scheduled Lambda in AWS) every `metricsIntervalMs` into its metric store, so
 * the alarm evaluator sees them too; `GET /v1/metrics/current` (pgwarden metrics) and `GET /metrics`
 * (Prometheus text format) serve the current value of every series.
 */
import { collectMetrics } from '../../../functions/metrics/collect';
import { currentValues, prometheusText } from '../../../functions/metrics/current';
import { loadDefinitions } from '../../../functions/metrics/definitions';
import { RawBody, type Routes } from './guard';
import type { ControlPlane } from './server';

export const DEFAULT_METRICS_INTERVAL_MS = 5000;

function intervalMs(cp: ControlPlane): number {
  return cp.lab.config().profile.metricsIntervalMs ?? DEFAULT_METRICS_INTERVAL_MS;
}

/** The metrics round: the custom SQL metrics into the metric store, every `metricsIntervalMs` (0: never). */
export function startMetricsRound(cp: ControlPlane): void {
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
  const every = intervalMs(cp);
  if (every > 0) {
    setTimeout(() => void round(), 1000).unref();
    setInterval(() => void round(), every).unref();
  }
}

export function metricsRoutes(cp: ControlPlane): Routes {
  const every = intervalMs(cp);
  // A series unpublished for a few rounds describes a past state (a node that is gone).
  const maxAgeMs = Math.max(3 * every, 3 * cp.lab.config().profile.probeIntervalMs, 15_000);
  const help = new Map(loadDefinitions().map((d) => [d.name, d.help]));
  const current = () => currentValues(cp.metrics.series.values(), Date.now(), maxAgeMs);
  return {
    'GET /v1/metrics/current': async () => ({
      cluster: cp.lab.config().cluster,
      intervalMs: every,
      metrics: current(),
    }),
    'GET /metrics': async () => {
      const { contentType, body } = await prometheusText(current(), (n) => help.get(n));
      return new RawBody(contentType, body);
    },
  };
}
