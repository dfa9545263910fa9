/**
 * The custom SQL metrics: declared in definitions.json (data a user extends), checked here once so a
 * mistake fails the first invocation with the definition's name rather than publishing garbage.
 */
import type { MetricDatum } from '../lib/ports';
import declared from './definitions.json';

export type MetricUnit = MetricDatum['unit'];
export type Placement = 'primary' | 'standby' | 'all';
/** gauge: the value as is; rate: per second from a counter; delta: counter increase; latency: statement ms. */
export type MetricKind = 'gauge' | 'rate' | 'delta' | 'latency';

export interface MetricDefinition {
  name: string;
  help?: string;
  sql: string;
  unit: MetricUnit;
  /** Columns of each row published as dimensions of the same name. */
  dimensions?: string[];
  on: Placement;
  kind?: MetricKind;
  /** Also publish the maximum over all rows with the Cluster dimension only. */
  max?: boolean;
  /** Database to run in; default: the admin credentials' database. */
  database?: string;
}

// The units MetricsSink accepts (a subset of CloudWatch's StandardUnit).
export const UNITS: readonly MetricUnit[] = [
  'Count',
  'Milliseconds',
  'Seconds',
  'Bytes',
  'None',
  'Percent',
  'Count/Second',
  'Bytes/Second',
];
export const PLACEMENTS: readonly Placement[] = ['primary', 'standby', 'all'];
export const KINDS: readonly MetricKind[] = ['gauge', 'rate', 'delta', 'latency'];
/** Dimensions the collector sets itself; a definition may set Node (e.g. per standby), never Cluster. */
const RESERVED_DIMENSIONS = ['Cluster'];

export class DefinitionError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'DefinitionError';
  }
}

/** The definitions, validated; throws DefinitionError naming every problem. */
export function loadDefinitions(raw: unknown = declared): MetricDefinition[] {
  const { valid, rejected } = partitionDefinitions(raw);
  if (rejected.length)
    throw new DefinitionError(`invalid metric definitions: ${rejected.map((r) => r.problems.join('; ')).join('; ')}`);
  return valid;
}

export interface RejectedDefinition {
  /** The definition's name, or #index when it has none. */
  name: string;
  problems: string[];
}

/**
 * The valid definitions and, apart, the invalid ones with their problems: the collector publishes the
 * valid ones and reports the others, so one user's broken entry does not silence every metric.
 */
export function partitionDefinitions(raw: unknown = declared): {
  valid: MetricDefinition[];
  rejected: RejectedDefinition[];
} {
  const list = (raw as { metrics?: unknown })?.metrics;
  if (!Array.isArray(list)) throw new DefinitionError('metric definitions: expected { "metrics": [...] }');
  const valid: MetricDefinition[] = [];
  const rejected: RejectedDefinition[] = [];
  const seen = new Set<string>();
  list.forEach((d, i) => {
    const problems = validate(d, i);
    const name = typeof d?.name === 'string' ? d.name : `#${i}`;
    if (typeof d?.name === 'string' && seen.has(d.name)) problems.push(`${d.name}: defined twice`);
    seen.add(d?.name);
    if (problems.length) rejected.push({ name, problems });
    else valid.push(d as MetricDefinition);
  });
  return { valid, rejected };
}

function validate(d: unknown, i: number): string[] {
  if (!d || typeof d !== 'object') return [`#${i}: not an object`];
  const m = d as Record<string, unknown>;
  const who = typeof m.name === 'string' ? m.name : `#${i}`;
  const out: string[] = [];
  if (typeof m.name !== 'string' || !/^[A-Z][A-Za-z0-9]{0,254}$/.test(m.name))
    out.push(`${who}: name must be PascalCase letters and digits`);
  if (typeof m.sql !== 'string' || !m.sql.trim()) out.push(`${who}: sql is required`);
  if (!UNITS.includes(m.unit as MetricUnit)) out.push(`${who}: unit must be one of ${UNITS.join(', ')}`);
  if (!PLACEMENTS.includes(m.on as Placement)) out.push(`${who}: on must be one of ${PLACEMENTS.join(', ')}`);
  if (m.kind !== undefined && !KINDS.includes(m.kind as MetricKind))
    out.push(`${who}: kind must be one of ${KINDS.join(', ')}`);
  if (m.max !== undefined && typeof m.max !== 'boolean') out.push(`${who}: max must be true or false`);
  if (m.database !== undefined && (typeof m.database !== 'string' || !m.database))
    out.push(`${who}: database must be a name`);
  if (m.dimensions !== undefined) {
    const dims = m.dimensions;
    if (!Array.isArray(dims) || dims.some((x) => typeof x !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(x)))
      out.push(`${who}: dimensions must be PascalCase column names`);
    else if (dims.some((x) => RESERVED_DIMENSIONS.includes(x)))
      out.push(`${who}: dimension ${RESERVED_DIMENSIONS.join(', ')} is set by the collector`);
    // CloudWatch allows 30 dimensions; Cluster and Node take two.
    else if (dims.length > 28) out.push(`${who}: too many dimensions`);
  }
  return out;
}
