/**
 * A metric published by code (not by definitions.json): its name, unit, dimension names and storage
 * resolution declared once, beside the code that publishes it. `datum()` builds every datum from the
 * spec and refuses dimensions that differ from it, so what the declaration says is what is published;
 * functions/metrics/catalog.ts gathers the specs to check every alarm and chart against them.
 */
import type { MetricDatum } from './ports';

export interface MetricSpec {
  name: string;
  unit: MetricDatum['unit'];
  /** Dimension names, exactly (order irrelevant). */
  dimensions: readonly string[];
  /** Published with StorageResolution 1 (alarms with periods under 60 s read it). */
  highResolution?: boolean;
}

export function datum(
  spec: MetricSpec,
  value: number,
  dimensions: Record<string, string>,
  timestamp?: Date,
): MetricDatum {
  const got = Object.keys(dimensions).sort().join(',');
  if (got !== [...spec.dimensions].sort().join(','))
    throw new Error(`metric ${spec.name}: dimensions ${got} differ from its spec (${spec.dimensions.join(',')})`);
  return {
    name: spec.name,
    value,
    unit: spec.unit,
    dimensions,
    ...(timestamp ? { timestamp } : {}),
    ...(spec.highResolution ? { storageResolution: 1 as const } : {}),
  };
}
