/**
 * Invokes the deployed `operator` Lambda (functions/triggers/operator.ts) and returns its answer: what
 * must run inside the VPC, such as a dry run's prechecks that probe the nodes.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

export class OperatorInvokeError extends Error {
  constructor(
    public readonly errorType: string,
    msg: string,
  ) {
    super(msg);
    this.name = errorType;
  }
}

export class LambdaOperator {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
  ) {}

  async invoke(request: Record<string, unknown>): Promise<unknown> {
    const r = await this.lambda.send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(request)),
      }),
    );
    const text = r.Payload ? new TextDecoder().decode(r.Payload) : 'null';
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (r.FunctionError) {
      const e = (body ?? {}) as { errorType?: string; errorMessage?: string };
      throw new OperatorInvokeError(e.errorType ?? 'Error', e.errorMessage ?? String(text));
    }
    return body;
  }
}
