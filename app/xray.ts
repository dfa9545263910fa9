/**
 * The tracing port over aws-xray-sdk-core. Manual mode (segments passed explicitly, no
 * continuation-local storage): one segment per request, a subsegment per Redis or PostgreSQL call,
 * sent over UDP to the daemon at AWS_XRAY_DAEMON_ADDRESS (the lab's collector, or the X-Ray daemon).
 * In Lambda the function's own (facade) segment is the parent and the request is a subsegment of it.
 */
import * as AWSXRay from 'aws-xray-sdk-core';
import type { IncomingRequestInfo, RequestTrace, SqlInfo, Tracer } from './tracing';

type Parent = AWSXRay.Segment | AWSXRay.Subsegment;
type HttpData = {
  request: { method: string; url: string; user_agent?: string; client_ip?: string };
  response?: { status: number };
};

let configured = false;

function configure(daemonAddress: string | undefined, inLambda: boolean): void {
  if (configured) return;
  configured = true;
  if (!inLambda) AWSXRay.enableManualMode();
  AWSXRay.setContextMissingStrategy('IGNORE_ERROR');
  // The SDK's own chatter (e.g. "Segment too large") would flood the app's log under load.
  AWSXRay.setLogger({ error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined });
  if (daemonAddress) AWSXRay.setDaemonAddress(daemonAddress);
}

/** Root and Parent of an incoming X-Amzn-Trace-Id header, e.g. from the ALB. */
export function parseTraceHeader(h: string | undefined): { root?: string; parent?: string } {
  const out: { root?: string; parent?: string } = {};
  for (const part of (h ?? '').split(';')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k === 'Root' && /^1-[0-9a-f]{8}-[0-9a-f]{24}$/.test(v ?? '')) out.root = v;
    if (k === 'Parent' && /^[0-9a-f]{16}$/.test(v ?? '')) out.parent = v;
  }
  return out;
}

export function xrayTracer(opts: { serviceName: string; daemonAddress?: string; inLambda: boolean }): Tracer {
  configure(opts.daemonAddress, opts.inLambda);
  return {
    begin(req: IncomingRequestInfo): RequestTrace {
      let root: Parent;
      let traceId: string | undefined;
      if (opts.inLambda) {
        const facade = AWSXRay.getSegment();
        if (!facade) return { sub: (_n, _k, fn) => fn(), end: () => undefined };
        root = facade.addNewSubsegment(`${req.method} ${new URL(req.url).pathname}`);
        traceId = (facade as AWSXRay.Segment).trace_id;
      } else {
        const { root: r, parent } = parseTraceHeader(req.traceHeader);
        const seg = new AWSXRay.Segment(opts.serviceName, r ?? null, parent ?? null);
        traceId = seg.trace_id;
        root = seg;
      }
      const http: HttpData = {
        request: { method: req.method, url: req.url, user_agent: req.userAgent, client_ip: req.clientIp },
      };
      (root as unknown as { http: HttpData }).http = http;
      return {
        traceId,
        async sub<T>(
          name: string,
          kind: 'redis' | 'postgresql',
          fn: () => Promise<T>,
          sql?: SqlInfo,
          detail?: Record<string, unknown>,
        ): Promise<T> {
          const s = root.addNewSubsegment(name);
          s.namespace = 'remote';
          if (sql) {
            s.addSqlData({ url: sql.url, user: sql.user, database_type: 'PostgreSQL', sanitized_query: sql.query });
          }
          if (detail) for (const [k, v] of Object.entries(detail)) s.addMetadata(k, v, kind);
          try {
            const r = await fn();
            s.close();
            return r;
          } catch (e) {
            s.close(e as Error, true);
            throw e;
          }
        },
        end(status: number, error?: Error): void {
          http.response = { status };
          if (status >= 500) root.addFaultFlag();
          else if (status >= 400) root.addErrorFlag();
          root.close(error);
        },
      };
    },
  };
}
