/**
 * The rehearsal input (functions/lib/rehearsal.ts): every Lambda built by lambda() answers
 * {"pgwarden": "rehearsal"} after its init and a check of its configuration, without calling its step;
 * any other event, a malformed one included, reaches the step and gets the step's own error.
 */
import { jsonLineCapture } from '../support/json-lines';
import { EnvError } from '../../../functions/lib/env';
import { lambda } from '../../../functions/lib/handler';
import { REHEARSAL_EVENT } from '../../../functions/lib/rehearsal';

const ENV: Record<string, string> = {
  PGWARDEN_CLUSTER: 'prod',
  PGWARDEN_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pg',
  PGWARDEN_NOTIFY_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:pgwarden-prod-notify',
  PGWARDEN_STATE_MACHINE_ARNS: JSON.stringify({
    failover: 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-prod-failover',
  }),
  AWS_REGION: 'eu-west-1',
};

const context = (functionName: string) =>
  ({
    functionName,
    awsRequestId: 'r1',
    memoryLimitInMB: '512',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
  }) as unknown as Parameters<ReturnType<typeof lambda>>[1];

describe('lambda() and the rehearsal input', () => {
  const log = jsonLineCapture();
  const lines = log.lines;
  const saved = { ...process.env };

  beforeEach(() => {
    Object.assign(process.env, ENV);
    log.start();
  });
  afterEach(() => {
    log.stop();
    process.env = { ...saved };
  });

  it('answers at once with the function name, cold start and init time, without calling the step', async () => {
    // Prepare
    const step = jest.fn(async () => ({ decision: 'failover' }));
    const handler = lambda(step);

    // Act
    const first = await handler(REHEARSAL_EVENT as never, context('pgwarden-prod-dev-failoverAssess'));
    const second = await handler(REHEARSAL_EVENT as never, context('pgwarden-prod-dev-failoverAssess'));

    // Assess
    expect(step).not.toHaveBeenCalled();
    expect(first).toEqual({
      pgwarden: 'rehearsal',
      functionName: 'pgwarden-prod-dev-failoverAssess',
      coldStart: true,
      initMs: expect.any(Number),
    });
    expect(second).toMatchObject({ coldStart: false });
    expect(lines.filter((l) => l.message === 'rehearsal answered')).toHaveLength(2);
    expect(lines.map((l) => l.message)).not.toContain('step started');
  });

  it('fails the rehearsal when the configuration is incomplete or malformed, naming the variable', async () => {
    // Prepare
    const step = jest.fn(async () => 'ran');
    const handler = lambda(step);
    delete process.env.PGWARDEN_DB_SECRET_ARN;

    // Act
    const missing = handler(REHEARSAL_EVENT as never, context('pgwarden-prod-dev-failoverPromote'));

    // Assess
    await expect(missing).rejects.toThrow(EnvError);
    await expect(missing).rejects.toThrow('environment variable PGWARDEN_DB_SECRET_ARN is not set');
    process.env.PGWARDEN_DB_SECRET_ARN = ENV.PGWARDEN_DB_SECRET_ARN;
    process.env.PGWARDEN_STATE_MACHINE_ARNS = '{"failover": "not an arn"}';
    await expect(handler(REHEARSAL_EVENT as never)).rejects.toThrow(/PGWARDEN_STATE_MACHINE_ARNS maps "failover"/);
    process.env.PGWARDEN_STATE_MACHINE_ARNS = ENV.PGWARDEN_STATE_MACHINE_ARNS;
    process.env.PGWARDEN_PROBE_TIMEOUT_MS = 'soon';
    await expect(handler(REHEARSAL_EVENT as never)).rejects.toThrow(/PGWARDEN_PROBE_TIMEOUT_MS must be/);
    expect(step).not.toHaveBeenCalled();
    expect(lines.filter((l) => l.message === 'rehearsal failed')).toHaveLength(3);
  });

  it('answers a warm-up input after the step’s warm(), never calling the step; a failing warm() changes nothing', async () => {
    // Prepare
    const step = jest.fn(async () => 'ran');
    const warm = jest.fn(async (deps: { cluster: string }) => {
      if (warm.mock.calls.length > 1) throw new Error('node unreachable');
      expect(deps.cluster).toBe('prod');
    });
    const handler = lambda(step, warm);
    const plain = lambda(step);

    // Act
    const first = await handler({ warmup: true } as never, context('pgwarden-prod-dev-failoverElect'));
    const second = await handler({ warmup: true } as never, context('pgwarden-prod-dev-failoverElect'));
    const noWarm = await plain({ warmup: true } as never, context('pgwarden-prod-dev-failoverRepoint'));

    // Assess
    expect([first, second, noWarm]).toEqual([{ warm: true }, { warm: true }, { warm: true }]);
    expect(warm).toHaveBeenCalledTimes(2);
    expect(step).not.toHaveBeenCalled();
  });

  it('hands any other event to the step: a malformed workflow input still gets the step’s clear error', async () => {
    // Prepare: the real Assess step of the failover.
    const { handler } = await import('../../../functions/failover/assess');

    // Act
    const empty = handler({} as never, context('pgwarden-prod-dev-failoverAssess'));
    const nearMiss = handler({ pgwarden: 'rehearse' } as never, context('pgwarden-prod-dev-failoverAssess'));
    const notAnObject = handler(null as never, context('pgwarden-prod-dev-failoverAssess'));

    // Assess
    for (const p of [empty, nearMiss])
      await expect(p).rejects.toMatchObject({
        name: 'InvalidInput',
        message: 'workflow input is for cluster "undefined", this deployment manages "prod"',
      });
    await expect(notAnObject).rejects.toMatchObject({
      name: 'InvalidInput',
      message: 'workflow input must be an object',
    });
    expect(lines.filter((l) => l.message === 'step failed')).toHaveLength(3);
    expect(lines.map((l) => l.message)).not.toContain('rehearsal answered');
  });
});
