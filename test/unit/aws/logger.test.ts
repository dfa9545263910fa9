/**
 * Lambda logs: every line a wrapped step writes (its own deps.log lines included) is one JSON object
 * with cluster, execution, step, cold_start and the X-Ray trace id, so that one Logs Insights query
 * reads a whole workflow execution in order.
 */
import { jsonLineCapture } from '../support/json-lines';
import type * as HandlerModule from '../../../functions/lib/handler';

// As in Lambda: the logger reads the initialization type when the module loads (cold start detection).
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
const { lambda } = require('../../../functions/lib/handler') as typeof HandlerModule;

const TRACE = '1-5759e988-bd862e3fe1be46a994272793';

function context(functionName: string, requestId: string) {
  return {
    functionName,
    awsRequestId: requestId,
    memoryLimitInMB: '128',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
  } as unknown as Parameters<ReturnType<typeof lambda>>[1];
}

describe('lambda() logs through Powertools Logger', () => {
  const log = jsonLineCapture();
  const lines = log.lines;

  beforeEach(() => {
    process.env._X_AMZN_TRACE_ID = `Root=${TRACE};Parent=53995c3f42cd8ad8;Sampled=1`;
    log.start();
  });
  afterEach(() => {
    log.stop();
    delete process.env._X_AMZN_TRACE_ID;
  });

  it('writes JSON lines with cluster, execution, step, cold start and trace id, in order; keys do not leak into the next invocation', async () => {
    // Prepare
    const handler = lambda(async (_input: { cluster?: string; executionName?: string }, deps) => {
      deps.log('candidate elected', { candidate: 'pg2', lsn: '0/3000060' });
      return { node: 'pg2' };
    });

    // Act
    await handler({ cluster: 'prod', executionName: 'prod-tl1-pg1-0' }, context('pgwarden-prod-failoverElect', 'r1'));
    const first = lines.splice(0);
    await handler({ cluster: 'prod', executionName: 'prod-tl2-pg2-1' }, context('pgwarden-prod-failoverElect', 'r2'));
    const second = lines.splice(0);

    // Assess
    expect(first.map((l) => l.message)).toEqual(['step started', 'candidate elected', 'step finished']);
    for (const l of first)
      expect(l).toMatchObject({
        level: 'INFO',
        service: 'pgwarden',
        cluster: 'prod',
        execution: 'prod-tl1-pg1-0',
        step: 'failoverElect',
        cold_start: true,
        function_request_id: 'r1',
        xray_trace_id: TRACE,
      });
    expect(first[1]).toMatchObject({ candidate: 'pg2', lsn: '0/3000060' });
    expect(first[2].durationMs).toEqual(expect.any(Number));
    for (const l of second) expect(l).toMatchObject({ execution: 'prod-tl2-pg2-1', cold_start: false });
    // An event without an execution (a scheduled Lambda) carries none, not the previous one's.
    await handler({} as never, context('pgwarden-prod-failoverElect', 'r3'));
    for (const l of lines) expect(l).not.toHaveProperty('execution');
  });

  it('puts the execution a trigger started on its "step finished" line', async () => {
    const trigger = lambda(async () => ({ action: 'started', executionName: 'prod-tl4-pg1-7' }));

    await trigger({ source: 'aws.ec2' } as never, context('pgwarden-prod-ec2State', 'r5'));

    expect(lines.map((l) => [l.message, l.execution])).toEqual([
      ['step started', undefined],
      ['step finished', 'prod-tl4-pg1-7'],
    ]);
  });

  it('logs a failed step with the error, then rethrows it', async () => {
    const handler = lambda(async () => {
      throw new Error('promote failed: timeline did not change');
    });

    await expect(
      handler({ cluster: 'prod', executionName: 'prod-tl3-pg2-2' }, context('pgwarden-prod-failoverPromote', 'r3')),
    ).rejects.toThrow('timeline did not change');

    const failed = lines.find((l) => l.message === 'step failed');
    expect(failed).toMatchObject({
      level: 'ERROR',
      execution: 'prod-tl3-pg2-2',
      step: 'failoverPromote',
      error: { message: 'promote failed: timeline did not change' },
    });
  });
});
