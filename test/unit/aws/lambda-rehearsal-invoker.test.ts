/**
 * The rehearsal's Lambda invoker (functions/rehearsal/aws.ts) against a mocked Lambda client: the
 * request it sends, and how it classifies an answer, a function error, an inactive or pending
 * function, a throttle and an invoke that does not return in time.
 */
import {
  InvokeCommand,
  LambdaClient,
  ResourceConflictException,
  ResourceNotReadyException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { REHEARSAL_EVENT } from '../../../functions/lib/rehearsal';
import { LambdaRehearsalInvoker } from '../../../functions/rehearsal/aws';
import { rehearseFunctions } from '../../../functions/rehearsal/rehearse';

const lambdaMock = mockClient(LambdaClient);
const FN = 'pgwarden-prod-dev-failoverAssess';
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const ANSWER = { pgwarden: 'rehearsal', functionName: FN, coldStart: true, initMs: 41 };

const invoker = () => new LambdaRehearsalInvoker(new LambdaClient({ region: 'eu-west-1' }));

beforeEach(() => {
  lambdaMock.reset();
});

describe('LambdaRehearsalInvoker', () => {
  it('invokes the function synchronously with the rehearsal input and returns its answer', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: bytes(ANSWER) as never });

    // Act
    const out = await invoker().invoke(FN, REHEARSAL_EVENT, 30_000);

    // Assess
    expect(out).toEqual({ kind: 'answered', payload: ANSWER });
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const input = lambdaMock.commandCalls(InvokeCommand)[0].args[0].input;
    expect(input.FunctionName).toBe(FN);
    expect(input.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({ pgwarden: 'rehearsal' });
  });

  it('reports a function error with its type and message', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: bytes({
        errorType: 'EnvError',
        errorMessage: 'environment variable PGWARDEN_CLUSTER is not set',
      }) as never,
    });

    const out = await invoker().invoke(FN, REHEARSAL_EVENT, 30_000);

    expect(out).toEqual({
      kind: 'function-error',
      message: 'EnvError: environment variable PGWARDEN_CLUSTER is not set',
    });
  });

  it('calls an inactive (ResourceNotReady) or pending function not ready, a throttle throttled, anything else an invoke error', async () => {
    // Prepare
    const inv = invoker();
    const $metadata = {};
    lambdaMock
      .on(InvokeCommand)
      .rejectsOnce(
        new ResourceNotReadyException({
          $metadata,
          message: 'The function is inactive and its VPC connection is no longer available.',
        }),
      )
      .rejectsOnce(
        new ResourceConflictException({
          $metadata,
          message:
            'The operation cannot be performed at this time. The function is currently in the following state: Pending',
        }),
      )
      .rejectsOnce(new TooManyRequestsException({ $metadata, message: 'Rate Exceeded.' }))
      .rejectsOnce(
        new ResourceConflictException({ $metadata, message: 'An update is in progress for resource: ' + FN }),
      )
      .rejectsOnce(
        Object.assign(new Error('User is not authorized to perform: lambda:InvokeFunction'), {
          name: 'AccessDeniedException',
        }),
      );

    // Act
    const kinds = [];
    for (let i = 0; i < 5; i++) kinds.push((await inv.invoke(FN, REHEARSAL_EVENT, 30_000)).kind);

    // Assess
    expect(kinds).toEqual(['not-ready', 'not-ready', 'throttled', 'invoke-error', 'invoke-error']);
  });

  it('retried by the rehearsal, an inactive function answers once reactivated (ResourceNotReady, then success)', async () => {
    // Prepare
    lambdaMock
      .on(InvokeCommand)
      .rejectsOnce(
        new ResourceNotReadyException({
          $metadata: {},
          message: 'The function is inactive and its VPC connection is no longer available.',
        }),
      )
      .resolves({ StatusCode: 200, Payload: bytes(ANSWER) as never });
    const sleep = jest.fn(async () => undefined);

    // Act
    const [r] = await rehearseFunctions([FN], invoker(), {
      concurrency: 8,
      invokeTimeoutMs: 30_000,
      retryDelayMs: 10,
      deadline: Date.now() + 60_000,
      now: () => Date.now(),
      sleep,
    });

    // Assess
    expect(r).toMatchObject({ functionName: FN, ok: true, outcome: 'reactivated', attempts: 2, coldStart: true });
    expect(r.reactivationMs).toEqual(expect.any(Number));
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('gives up on an invoke that does not return within its limit, and aborts the request', async () => {
    // Prepare: the call never returns.
    lambdaMock.on(InvokeCommand).callsFake(() => new Promise(() => undefined));

    // Act
    const t0 = Date.now();
    const out = await invoker().invoke(FN, REHEARSAL_EVENT, 50);

    // Assess
    expect(out).toEqual({ kind: 'timeout', message: 'no answer within 50 ms' });
    expect(Date.now() - t0).toBeLessThan(1_000);
    const options = (lambdaMock.send.getCall(0).args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined;
    expect(options?.abortSignal?.aborted).toBe(true);
  });
});
