import { DescribeInstancesCommand, EC2Client, type InstanceStateName, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Ec2InstanceControl } from '../../../functions/lib/aws/ec2-instance-control';
import { NoCapacityError } from '../../../functions/lib/ports';
import type { Topology } from '../../../functions/lib/topology';

const ec2Mock = mockClient(EC2Client);
const INSTANCE = 'i-0123456789abcdef0';

function control(
  timing: { deadlineMs?: number; pollMs?: number; sleep?(ms: number): Promise<void>; now?(): number } = {},
) {
  return new Ec2InstanceControl(new EC2Client({ region: 'eu-west-1' }), {
    pollMs: 1,
    sleep: () => Promise.resolve(),
    ...timing,
  });
}

function incorrectState() {
  return Object.assign(new Error(`The instance '${INSTANCE}' is not in a state from which it can be stopped.`), {
    name: 'IncorrectInstanceState',
  });
}

function described(state: InstanceStateName) {
  return { Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: state } }] }] };
}

beforeEach(() => {
  ec2Mock.reset();
});

describe('Ec2InstanceControl.forceStop', () => {
  it('force-stops the instance and returns only once it is stopped, not while it is stopping', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).resolves({
      StoppingInstances: [{ InstanceId: INSTANCE, CurrentState: { Name: 'stopping', Code: 64 } }],
    });
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('stopping'))
      .resolvesOnce(described('stopping'))
      .resolves(described('stopped'));

    // Act
    await control().forceStop(INSTANCE);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [INSTANCE], Force: true });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 3);
  });

  it('fails after its deadline when the instance stays stopping (the fence step is retried)', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).resolves({
      StoppingInstances: [{ InstanceId: INSTANCE, CurrentState: { Name: 'stopping', Code: 64 } }],
    });
    ec2Mock.on(DescribeInstancesCommand).resolves(described('stopping'));

    // Act: the default 100 s deadline and 2 s polls, on a fake clock (nothing waited for real)
    let now = 0;
    const stop = control({
      deadlineMs: 100_000,
      pollMs: 2_000,
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    }).forceStop(INSTANCE);

    // Assess
    await expect(stop).rejects.toThrow(`instance ${INSTANCE} is still stopping 100000 ms after its forced stop`);
    expect(now).toBe(100_000);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 50);
  });

  it('waits for an instance that was already stopping', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).rejects(incorrectState());
    ec2Mock.on(DescribeInstancesCommand).resolvesOnce(described('stopping')).resolves(described('stopped'));

    // Act
    await control().forceStop(INSTANCE);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
  });

  it('treats an already terminated instance as fenced', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).rejects(incorrectState());
    ec2Mock.on(DescribeInstancesCommand).resolves(described('terminated'));

    // Act
    const stop = control().forceStop(INSTANCE);

    // Assess
    await expect(stop).resolves.toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE] });
  });

  it('fails when the instance is in a state that is not fenced (e.g. pending)', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).rejects(incorrectState());
    ec2Mock.on(DescribeInstancesCommand).resolves(described('pending'));

    // Act
    const stop = control().forceStop(INSTANCE);

    // Assess
    await expect(stop).rejects.toThrow(`cannot force-stop instance ${INSTANCE} in state pending`);
  });

  it('propagates other errors', async () => {
    // Prepare
    ec2Mock
      .on(StopInstancesCommand)
      .rejects(Object.assign(new Error('does not exist'), { name: 'InvalidInstanceID.NotFound' }));

    // Act
    const stop = control().forceStop(INSTANCE);

    // Assess
    await expect(stop).rejects.toThrow('does not exist');
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});

describe('Ec2InstanceControl.provision', () => {
  const topo = (roles: Record<string, string>) =>
    ({
      nodes: Object.entries(roles).map(([name, role], i) => ({
        name,
        host: `10.0.${i}.10`,
        port: 5432,
        backendId: i,
        role,
        instanceId: `i-${name}`,
      })),
    }) as unknown as Topology;

  it('returns the first running spare (a node the topology lists as removed)', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-pg4', State: { Name: 'stopped' } },
            { InstanceId: 'i-pg5', State: { Name: 'running' } },
          ],
        },
      ],
    });
    const n = await control().provision(
      topo({ pg1: 'primary', pg2: 'standby', pg3: 'standby', pg4: 'removed', pg5: 'removed' }),
    );
    expect(n).toEqual({ name: 'pg5', host: '10.0.4.10', port: 5432, backendId: 4, instanceId: 'i-pg5' });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: ['i-pg4', 'i-pg5'] });
  });

  it('fails with NoCapacity, naming each spare state, when none runs', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-pg4', State: { Name: 'stopped' } }] }],
    });
    await expect(control().provision(topo({ pg1: 'primary', pg4: 'removed' }))).rejects.toThrow(
      new NoCapacityError('no running spare node instance (pg4 i-pg4: stopped)'),
    );
  });

  it('fails with NoCapacity without calling EC2 when the topology has no spare', async () => {
    await expect(control().provision(topo({ pg1: 'primary', pg2: 'standby' }))).rejects.toBeInstanceOf(NoCapacityError);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});
