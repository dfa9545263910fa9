/**
 * The lab's stand-in for the X-Ray daemon: a UDP listener on the lab's X-Ray port that speaks the
 * daemon protocol (each datagram: a JSON header line, a newline, one segment or subsegment
 * document), keeps the most recent traces in memory and serves them as timelines.
 */
import { createSocket, type Socket } from 'node:dgram';

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

/** Parse one datagram; undefined when it is not the daemon protocol. */
export function parseDatagram(msg: string): SegmentDoc | undefined {
  const nl = msg.indexOf('\n');
  if (nl < 0) return undefined;
  try {
    const header = JSON.parse(msg.slice(0, nl)) as { format?: string; version?: number };
    if (header.format !== 'json') return undefined;
    const doc = JSON.parse(msg.slice(nl + 1)) as SegmentDoc;
    return typeof doc.trace_id === 'string' && typeof doc.id === 'string' ? doc : undefined;
  } catch {
    return undefined;
  }
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

export class TraceCollector {
  private socket?: Socket;
  /** trace id -> its documents, oldest trace first (Map keeps insertion order). */
  private readonly traces = new Map<string, SegmentDoc[]>();
  received = 0;
  rejected = 0;

  constructor(private readonly maxTraces = 500) {}

  add(doc: SegmentDoc): void {
    const list = this.traces.get(doc.trace_id);
    if (list) {
      // A segment sent again (e.g. in progress, then closed) replaces its earlier copy.
      const i = list.findIndex((d) => d.id === doc.id);
      if (i >= 0) list[i] = doc;
      else list.push(doc);
    } else {
      this.traces.set(doc.trace_id, [doc]);
      if (this.traces.size > this.maxTraces) this.traces.delete(this.traces.keys().next().value!);
    }
  }

  recent(limit = 20): TraceView[] {
    return [...this.traces.values()]
      .slice(-limit)
      .reverse()
      .map((docs) => timeline(docs))
      .filter((t): t is TraceView => !!t);
  }

  get(id: string): TraceView | undefined {
    const docs = this.traces.get(id);
    return docs ? timeline(docs) : undefined;
  }

  async start(port: number): Promise<void> {
    const s = createSocket('udp4');
    s.on('message', (m) => {
      const doc = parseDatagram(m.toString('utf8'));
      if (doc) {
        this.received++;
        this.add(doc);
      } else this.rejected++;
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    this.socket = s;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }
}
