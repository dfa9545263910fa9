/**
 * Tracing port: one trace per request with a subsegment per Redis and PostgreSQL call. The X-Ray
 * adapter lives in xray.ts; with tracing off the app uses NO_TRACING and pays nothing.
 */
export interface SqlInfo {
  /** The statement text: parameters are placeholders ($1), never their values. */
  query: string;
  url: string;
  user: string;
  database: string;
}

export interface RequestTrace {
  /** The X-Ray trace id, when traced (answered in the X-Amzn-Trace-Id header). */
  readonly traceId?: string;
  /** Run `fn` in a subsegment named `name` (e.g. "redis", "postgresql"). */
  sub<T>(
    name: string,
    kind: 'redis' | 'postgresql',
    fn: () => Promise<T>,
    sql?: SqlInfo,
    detail?: Record<string, unknown>,
  ): Promise<T>;
  /** Close the request's segment with its HTTP status. */
  end(status: number, error?: Error): void;
}

export interface IncomingRequestInfo {
  method: string;
  url: string;
  userAgent?: string;
  clientIp?: string;
  /** An incoming X-Amzn-Trace-Id header (the ALB sets one). */
  traceHeader?: string;
}

export interface Tracer {
  begin(req: IncomingRequestInfo): RequestTrace;
}

const NOOP_TRACE: RequestTrace = {
  sub: (_name, _kind, fn) => fn(),
  end: () => undefined,
};

export const NO_TRACING: Tracer = { begin: () => NOOP_TRACE };
