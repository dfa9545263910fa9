/**
 * The rehearsal input: `{"pgwarden": "rehearsal"}`. Every Lambda built by `lambda()` (every workflow
 * step and trigger, functions/lib/handler.ts) answers it at once with a RehearsalAnswer, after its
 * init and a check of its configuration, without calling its step: no topology, no node, no database,
 * no AWS call. The scheduled rehearsal (functions/rehearsal) sends it to every step Lambda, so that a
 * function Lambda made inactive after weeks without an invocation is reactivated by the rehearsal, not
 * by the first real failover.
 *
 * An event is a rehearsal when it is a JSON object whose `pgwarden` is "rehearsal" (other keys are
 * ignored); no workflow input or trigger event has a `pgwarden` key.
 */
export const REHEARSAL_EVENT = { pgwarden: 'rehearsal' } as const;

export interface RehearsalAnswer {
  pgwarden: 'rehearsal';
  /** The Lambda that answered (its context's function name). */
  functionName: string;
  /** true on the first invocation of this Lambda container. */
  coldStart: boolean;
  /** How long this container's init took in the handler: loading the AWS wiring and building it. */
  initMs: number;
}

export function isRehearsal(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    !Array.isArray(event) &&
    (event as { pgwarden?: unknown }).pgwarden === 'rehearsal'
  );
}

export function isRehearsalAnswer(x: unknown): x is RehearsalAnswer {
  if (!isRehearsal(x)) return false;
  const a = x as Partial<RehearsalAnswer>;
  return typeof a.functionName === 'string' && typeof a.coldStart === 'boolean' && typeof a.initMs === 'number';
}
