import {
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { executionArn, executionName, SfnWorkflowStarter } from '../../../functions/lib/aws/sfn-workflow-starter';

const sfnMock = mockClient(SFNClient);
const FAILOVER_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgwarden-failover';

function starter() {
  return new SfnWorkflowStarter(new SFNClient({ region: 'eu-west-1' }), { failover: FAILOVER_ARN });
}

beforeEach(() => {
  sfnMock.reset();
});

describe('SfnWorkflowStarter', () => {
  it('starts the mapped state machine with the given name and JSON input', async () => {
    // Prepare
    const name = executionName(['failover', 'prod', 'tl3']);
    sfnMock
      .on(StartExecutionCommand)
      .resolves({ executionArn: executionArn(FAILOVER_ARN, name), startDate: new Date() });
    const input = { cluster: 'prod', timeline: 3, trigger: 'alarm' };

    // Act
    const result = await starter().start('failover', name, input);

    // Assess
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: FAILOVER_ARN,
      name: 'failover-prod-tl3',
      input: JSON.stringify(input),
    });
    expect(result).toEqual({
      executionName: 'failover-prod-tl3',
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:pgwarden-failover:failover-prod-tl3',
      started: true,
    });
  });

  it('collapses a duplicate trigger into the existing execution (ExecutionAlreadyExists)', async () => {
    // Prepare
    sfnMock
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: executionArn(FAILOVER_ARN, 'failover-prod-tl3'), startDate: new Date() })
      .rejects(new ExecutionAlreadyExists({ $metadata: {}, message: 'Execution Already Exists' }));

    // Act
    const first = await starter().start('failover', 'failover-prod-tl3', { trigger: 'alarm' });
    const second = await starter().start('failover', 'failover-prod-tl3', { trigger: 'pgpool' });

    // Assess
    expect(first.started).toBe(true);
    expect(second).toEqual({ ...first, started: false });
  });

  it('refuses a workflow without a configured state machine', async () => {
    // Prepare / Act
    const start = starter().start('switchover', 'switchover-prod-1', {});

    // Assess
    await expect(start).rejects.toThrow('no state machine configured for workflow "switchover" (configured: failover)');
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('refuses an invalid execution name before calling AWS', async () => {
    // Prepare / Act
    const start = starter().start('failover', 'failover prod/tl3', {});

    // Assess
    await expect(start).rejects.toThrow(/invalid execution name "failover prod\/tl3"/);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('passes other errors through', async () => {
    // Prepare
    sfnMock.on(StartExecutionCommand).rejects(new StateMachineDoesNotExist({ $metadata: {}, message: 'gone' }));

    // Act
    const start = starter().start('failover', 'failover-prod-tl3', {});

    // Assess
    await expect(start).rejects.toThrow('gone');
  });
});

describe('executionArn', () => {
  it('keeps partition, region and account, and drops a version or alias qualifier', () => {
    // Prepare
    const govArn = 'arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:pgwarden-failover:live';

    // Act
    const arn = executionArn(govArn, 'failover-prod-tl3');

    // Assess
    expect(arn).toBe('arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:pgwarden-failover:failover-prod-tl3');
  });

  it('rejects something that is not a state machine ARN', () => {
    // Prepare / Act / Assess
    expect(() => executionArn('arn:aws:lambda:eu-west-1:123456789012:function:x', 'n')).toThrow(
      /not a state machine ARN/,
    );
  });
});
