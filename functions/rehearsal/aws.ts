/**
 * The rehearsal's invoker over Lambda Invoke (RequestResponse). Its role may invoke exactly the
 * workflow step Lambdas (infra/aws/iam.js). Every result is classified, never thrown: an inactive or
 * pending function is "not-ready" (that invoke starts its reactivation), a throttle "throttled", an
 * invoke that outlives its limit "timeout" (the request is aborted).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionInvoker, InvokeOutcome } from './rehearse';

/**
 * Lambda's errors for a function that cannot run yet: inactive (its VPC network interface was
 * reclaimed), its interface still being built, or pending (ResourceConflictException naming the state).
 */
const NOT_READY = new Set(['ResourceNotReadyException', 'ENINotReadyException']);
const PENDING = /\b(Pending|Inactive)\b/;

export class LambdaRehearsalInvoker implements FunctionInvoker {
  constructor(private readonly lambda: LambdaClient) {}

  async invoke(functionName: string, payload: unknown, timeoutMs: number): Promise<InvokeOutcome> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<InvokeOutcome>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve({ kind: 'timeout', message: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.send(functionName, payload, abort.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async send(functionName: string, payload: unknown, abortSignal: AbortSignal): Promise<InvokeOutcome> {
    try {
      const r = await this.lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
        { abortSignal },
      );
      const text = r.Payload ? new TextDecoder().decode(r.Payload) : '';
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON: judged as it is.
      }
      if (r.FunctionError) {
        const e = (typeof body === 'object' && body ? body : {}) as { errorType?: string; errorMessage?: string };
        return {
          kind: 'function-error',
          message: `${e.errorType ?? r.FunctionError}: ${e.errorMessage ?? (text.slice(0, 500) || 'no message')}`,
        };
      }
      return { kind: 'answered', payload: body };
    } catch (err) {
      const e = err as Error;
      const message = `${e.name}: ${e.message}`;
      if (NOT_READY.has(e.name) || (e.name === 'ResourceConflictException' && PENDING.test(e.message)))
        return { kind: 'not-ready', message };
      if (e.name === 'TooManyRequestsException') return { kind: 'throttled', message };
      return { kind: 'invoke-error', message };
    }
  }
}
