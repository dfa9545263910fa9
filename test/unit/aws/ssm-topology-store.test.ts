import {
  GetParameterCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  PARAMETER_VALUE_MAX_BYTES,
  SsmTopologyStore,
  TopologyNotFoundError,
} from '../../../functions/lib/aws/ssm-topology-store';
import { TopologyConflictError } from '../../../functions/lib/ports';
import type { Topology } from '../../../functions/lib/topology';

const ssmMock = mockClient(SSMClient);
const NAME = '/pgwarden/prod/topology';

function topology(version: number, extra: Partial<Topology> = {}): Topology {
  return {
    cluster: 'prod',
    version,
    primary: 'pg1',
    timeline: 1,
    paused: false,
    syncQuorum: 1,
    nodes: [
      { name: 'pg1', host: '10.0.1.10', port: 5432, backendId: 0, role: 'primary', instanceId: 'i-01' },
      { name: 'pg2', host: '10.0.2.10', port: 5432, backendId: 1, role: 'standby', instanceId: 'i-02' },
    ],
    pgpools: [{ name: 'pgpool1', host: '10.0.1.20', port: 9999, pcpPort: 9898, instanceId: 'i-0p' }],
    history: [],
    ...extra,
  };
}

function stored(doc: Topology, parameterVersion: number) {
  return { Parameter: { Name: NAME, Value: JSON.stringify(doc), Version: parameterVersion } };
}

function store(log?: (msg: string, fields?: Record<string, unknown>) => void) {
  return new SsmTopologyStore(new SSMClient({ region: 'eu-west-1' }), { log });
}

function putValues(): Topology[] {
  return ssmMock.commandCalls(PutParameterCommand).map((c) => JSON.parse(c.args[0].input.Value ?? '') as Topology);
}

beforeEach(() => {
  ssmMock.reset();
});

describe('SsmTopologyStore.get', () => {
  it('reads the cluster parameter named from the template and parses it', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves(stored(topology(4), 9));
    const custom = new SsmTopologyStore(new SSMClient({ region: 'eu-west-1' }), {
      parameterTemplate: '/acme/{cluster}/pg/topology',
    });

    // Act
    const t = await custom.get('prod');

    // Assess
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/acme/prod/pg/topology' });
    expect(t).toEqual(topology(4));
  });

  it('fails clearly when the cluster has no topology', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ $metadata: {}, message: 'not found' }));

    // Act
    const get = store().get('prod');

    // Assess
    await expect(get).rejects.toBeInstanceOf(TopologyNotFoundError);
    await expect(store().get('prod')).rejects.toThrow(
      'no topology for cluster "prod" (SSM parameter /pgwarden/prod/topology does not exist)',
    );
  });

  it('rejects a value that is not JSON or belongs to another cluster', async () => {
    // Prepare
    ssmMock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: '{not json', Version: 1 } })
      .resolvesOnce(stored({ ...topology(1), cluster: 'staging' }, 1));

    // Act
    const notJson = store().get('prod');
    const otherCluster = store().get('prod');

    // Assess
    await expect(notJson).rejects.toThrow(/does not hold valid JSON/);
    await expect(otherCluster).rejects.toThrow('holds the topology of cluster "staging", not "prod"');
  });
});

describe('SsmTopologyStore.put', () => {
  it('overwrites when the stored version is next.version - 1', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves(stored(topology(4), 9));
    ssmMock.on(PutParameterCommand).resolves({ Version: 10 });
    const next = topology(5, { primary: 'pg2', timeline: 2 });

    // Act
    await store().put(next);

    // Assess
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: NAME,
      Value: JSON.stringify(next),
      Type: 'String',
      Tier: 'Intelligent-Tiering',
      Overwrite: true,
    });
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
  });

  it('refuses a stale write with TopologyConflictError and writes nothing', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves(stored(topology(6), 12));

    // Act
    const put = store().put(topology(5));

    // Assess
    await expect(put).rejects.toThrow(new TopologyConflictError(4, 6));
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('creates the first version atomically (Overwrite=false)', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ $metadata: {}, message: 'not found' }));
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });

    // Act
    await store().put(topology(1));

    // Assess
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Name: NAME, Overwrite: false });
  });

  it('reports a conflict when another writer created the first version first', async () => {
    // Prepare
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(new ParameterNotFound({ $metadata: {}, message: 'not found' }))
      .resolves(stored(topology(1), 1));
    ssmMock.on(PutParameterCommand).rejects(new ParameterAlreadyExists({ $metadata: {}, message: 'exists' }));

    // Act
    const put = store().put(topology(1));

    // Assess
    await expect(put).rejects.toThrow(new TopologyConflictError(0, 1));
  });

  it('detects a concurrent write from the parameter version, restores it, and reports the conflict', async () => {
    // Prepare: we read parameter version 9 (doc v4); another writer put doc v5 as parameter version 10.
    const theirs = topology(5, {
      primary: 'pg2',
      history: [{ at: '2024-01-01T00:00:00Z', kind: 'theirs', detail: {} }],
    });
    ssmMock.on(GetParameterCommand, { Name: NAME }).resolves(stored(topology(4), 9));
    ssmMock.on(GetParameterCommand, { Name: `${NAME}:10` }).resolves(stored(theirs, 10));
    ssmMock.on(PutParameterCommand).resolvesOnce({ Version: 11 }).resolves({ Version: 12 });
    const log = jest.fn();
    const ours = topology(5, { primary: 'pg1', paused: true });

    // Act
    const put = store(log).put(ours);

    // Assess
    await expect(put).rejects.toThrow(new TopologyConflictError(4, 5));
    expect(putValues()).toEqual([ours, theirs]);
    expect(ssmMock.commandCalls(PutParameterCommand)[1].args[0].input).toMatchObject({ Name: NAME, Overwrite: true });
    expect(log).toHaveBeenCalledWith('topology write lost a race; restored the concurrent write', {
      parameter: NAME,
      ourVersion: 5,
      restoredVersion: 5,
    });
  });

  it('stores a document over 4 KB intact (Intelligent-Tiering makes it advanced)', async () => {
    // Prepare
    const history = Array.from({ length: 40 }, (_, i) => ({
      at: '2024-01-01T00:00:00.000Z',
      kind: 'probe',
      detail: { i, note: 'x'.repeat(80) },
    }));
    const next = topology(2, { history });
    expect(Buffer.byteLength(JSON.stringify(next))).toBeGreaterThan(4096);
    ssmMock.on(GetParameterCommand).resolves(stored(topology(1), 1));
    ssmMock.on(PutParameterCommand).resolves({ Version: 2 });

    // Act
    await store().put(next);

    // Assess
    expect(putValues()[0]).toEqual(next);
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Tier: 'Intelligent-Tiering' });
  });

  it('drops the oldest history events when the document exceeds 8 KB, and logs it', async () => {
    // Prepare
    const history = Array.from({ length: 200 }, (_, i) => ({
      at: '2024-01-01T00:00:00.000Z',
      kind: 'probe',
      detail: { i, note: 'x'.repeat(40) },
    }));
    const next = topology(2, { history });
    ssmMock.on(GetParameterCommand).resolves(stored(topology(1), 1));
    ssmMock.on(PutParameterCommand).resolves({ Version: 2 });
    const log = jest.fn();

    // Act
    await store(log).put(next);

    // Assess
    const value = ssmMock.commandCalls(PutParameterCommand)[0].args[0].input.Value ?? '';
    const written = JSON.parse(value) as Topology;
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(PARAMETER_VALUE_MAX_BYTES);
    expect(written.history.length).toBeLessThan(200);
    expect(written.history.at(-1)).toEqual(history.at(-1));
    expect({ ...written, history: [] }).toEqual({ ...next, history: [] });
    expect(log).toHaveBeenCalledWith('topology history trimmed to fit Parameter Store', {
      cluster: 'prod',
      dropped: 200 - written.history.length,
      kept: written.history.length,
    });
  });
});
