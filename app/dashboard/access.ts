/**
 * Who may see the operator dashboard in AWS. The stack's ALB is internet-facing (the app's API is
 * public) and the app has no login, so the dashboard (topology, alarms, executions, traces, digest)
 * answers only clients whose address is inside PGWARDEN_APP_DASHBOARD_ALLOWED_CIDR (stack parameter
 * DashboardAllowedCidr); the ALB refuses other sources too (infra/aws/alb.yml), this is the app's own
 * check behind it. The client address is the last X-Forwarded-For entry: the ALB appends the address
 * it saw, whatever a client put before it.
 */
import type { MiddlewareHandler } from 'hono';

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

export interface Cidr {
  base: number;
  bits: number;
}

/** A parsed IPv4 CIDR block, or an Error naming what is wrong with the text. */
export function parseCidr(text: string): Cidr | Error {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || !IPV4.test(m[1]) || Number(m[2]) > 32)
    return new Error(`must be an IPv4 CIDR block such as 203.0.113.0/24, got "${text}"`);
  const bits = Number(m[2]);
  return { base: (ipv4(m[1])! & mask(bits)) >>> 0, bits };
}

function ipv4(text: string): number | undefined {
  if (!IPV4.test(text)) return undefined;
  return text.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Whether the IPv4 address lies in the block (IPv6 and malformed addresses never do). */
export function inCidr(address: string, cidr: Cidr): boolean {
  const a = ipv4(address.trim().replace(/^::ffff:/i, ''));
  return a !== undefined && (a & mask(cidr.bits)) >>> 0 === cidr.base;
}

/** The address the ALB saw: the last X-Forwarded-For entry, or undefined without the header. */
export function albClientAddress(xForwardedFor: string | undefined): string | undefined {
  const last = xForwardedFor?.split(',').at(-1)?.trim();
  return last || undefined;
}

/** Middleware: 403 unless the client (as the ALB saw it) is inside the block. */
export function allowOnlyFrom(cidr: Cidr): MiddlewareHandler {
  return async (c, next) => {
    const client = albClientAddress(c.req.header('x-forwarded-for'));
    if (!client || !inCidr(client, cidr))
      return c.text('the dashboard is not open to this address (stack parameter DashboardAllowedCidr)\n', 403);
    await next();
  };
}
