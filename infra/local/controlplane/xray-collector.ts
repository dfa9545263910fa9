/**
 * The lab's stand-in for the X-Ray daemon: a UDP listener on the lab's X-Ray port that speaks the
 * daemon protocol (each datagram: a JSON header line, a newline, one segment or subsegment
 * document), keeps the most recent traces in memory and serves them as timelines.
 */
import { createSocket, type Socket } from 'node:dgram';
import { timeline, type SegmentDoc, type TraceView } from '../../../app/dashboard/trace-timeline';

export { timeline, type SegmentDoc, type Span, type TraceView } from '../../../app/dashboard/trace-timeline';

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
