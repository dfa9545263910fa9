/**
 * X-Ray segment documents as a trace timeline (what the dashboard draws): the lab's collector keeps
 * the documents the app sends it, the AWS source reads them back with BatchGetTraces; both turn them
 * into the same TraceView here.
 */

export interface SegmentDoc {
  id: string;
  trace_id: string;
  name: string;
  start_time: number;
  end_time?: number;
  in_progress?: boolean;
  parent_id?: string;
  type?: string;
  namespace?: string;
  http?: { request?: { method?: string; url?: string }; response?: { status?: number } };
  sql?: { sanitized_query?: string; url?: string; user?: string };
  error?: boolean;
  fault?: boolean;
  cause?: { exceptions?: { message?: string }[] };
  subsegments?: SegmentDoc[];
  metadata?: Record<string, Record<string, unknown>>;
}

export interface Span {
  id: string;
  name: string;
  depth: number;
  offsetMs: number;
  durationMs: number | null;
  namespace?: string;
  sql?: string;
  error?: string;
  fault?: boolean;
}

export interface TraceView {
  id: string;
  name: string;
  startedAt: string;
  durationMs: number | null;
  method?: string;
  url?: string;
  status?: number;
  fault: boolean;
  spans: Span[];
}

/**
 * A trace's timeline: every (sub)segment with its depth, offset from the trace's start and duration,
 * in start order. Streamed subsegments (sent on their own, with parent_id) are placed under their
 * parent.
 */
export function timeline(docs: SegmentDoc[]): TraceView | undefined {
  const roots = docs.filter((d) => d.type !== 'subsegment');
  const root = roots.sort((a, b) => a.start_time - b.start_time)[0] ?? docs[0];
  if (!root) return undefined;
  const children = new Map<string, SegmentDoc[]>();
  const add = (parent: string, d: SegmentDoc) => children.set(parent, [...(children.get(parent) ?? []), d]);
  const walk = (d: SegmentDoc) => {
    for (const s of d.subsegments ?? []) {
      add(d.id, s);
      walk(s);
    }
  };
  for (const d of docs) {
    if (d.type === 'subsegment' && d.parent_id) add(d.parent_id, d);
    walk(d);
  }
  const t0 = Math.min(...docs.map((d) => d.start_time));
  const spans: Span[] = [];
  const seen = new Set<string>();
  const visit = (d: SegmentDoc, depth: number) => {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    spans.push({
      id: d.id,
      name: d.name,
      depth,
      offsetMs: round((d.start_time - t0) * 1000),
      durationMs: d.end_time ? round((d.end_time - d.start_time) * 1000) : null,
      namespace: d.namespace,
      sql: d.sql?.sanitized_query,
      error: d.cause?.exceptions?.[0]?.message,
      fault: d.fault,
    });
    for (const c of [...(children.get(d.id) ?? [])].sort((a, b) => a.start_time - b.start_time)) visit(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.start_time - b.start_time)) visit(r, 0);
  const end = Math.max(...docs.map((d) => d.end_time ?? 0));
  return {
    id: root.trace_id,
    name: root.name,
    startedAt: new Date(t0 * 1000).toISOString(),
    durationMs: root.end_time ? round((end - t0) * 1000) : null,
    method: root.http?.request?.method,
    url: root.http?.request?.url,
    status: root.http?.response?.status,
    fault: docs.some((d) => d.fault),
    spans,
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
