import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDbTopologyStore, TopologyNotFoundError } from '../../../functions/lib/aws/dynamodb-topology-store';
import { TopologyConflictError } from '../../../functions/lib/ports';
import type { Topology } from '../../../functions/lib/topology';
import { updateTopology } from '../../../functions/lib/topology-update';

const dbMock = mockClient(DynamoDBClient);
const TABLE = 'pgwarden-prod-topology';

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

const item = (doc: Topology): Record<string, AttributeValue> => ({
  cluster: { S: doc.cluster },
  version: { N: String(doc.version) },
  document: { S: JSON.stringify(doc) },
});

/**
 * DynamoDB's side of a conditional write, as the service documents it: the condition is evaluated
 * against the item as stored when the request is applied, and the write lands whole or not at all.
 * Only the two condition forms the adapter sends are understood; anything else fails the test.
 */
class Table {
  items = new Map<string, Record<string, AttributeValue>>();
  /** Runs before each PutItem is applied: lets a test interleave other writers. */
  beforePut: (input: PutItemCommandInput) => Promise<void> = async () => undefined;

  install() {
    dbMock.on(GetItemCommand).callsFake(async (input: GetItemCommandInput) => {
      expect(input.TableName).toBe(TABLE);
      expect(input.ConsistentRead).toBe(true);
      const it = this.items.get(input.Key!.cluster.S!);
      return { Item: it ? structuredClone(it) : undefined };
    });
    dbMock.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
      await this.beforePut(input);
      const key = input.Item!.cluster.S!;
      const cur = this.items.get(key);
      let ok: boolean;
      if (input.ConditionExpression === 'attribute_not_exists(#c)') {
        expect(input.ExpressionAttributeNames).toEqual({ '#c': 'cluster' });
        ok = cur === undefined;
      } else if (input.ConditionExpression === '#v = :expected') {
        expect(input.ExpressionAttributeNames).toEqual({ '#v': 'version' });
        ok = cur !== undefined && cur.version.N === input.ExpressionAttributeValues![':expected'].N;
      } else {
        throw new Error(`unexpected condition ${input.ConditionExpression}`);
      }
      if (!ok) {
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
          Item: input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && cur ? structuredClone(cur) : undefined,
        });
      }
      this.items.set(key, structuredClone(input.Item!));
      return {};
    });
  }

  doc(cluster = 'prod'): Topology {
    return JSON.parse(this.items.get(cluster)!.document.S!) as Topology;
  }
}

const store = () => new DynamoDbTopologyStore(new DynamoDBClient({ region: 'eu-west-1' }), { table: TABLE });
const deps = () => ({ topology: store(), cluster: 'prod' });

let table: Table;
beforeEach(() => {
  dbMock.reset();
  table = new Table();
  table.install();
});

describe('DynamoDbTopologyStore.get', () => {
  it('reads the cluster item with a strongly consistent read', async () => {
    // Prepare
    table.items.set('prod', item(topology(4)));

    // Act
    const t = await store().get('prod');

    // Assess
    expect(t.version).toBe(4);
    expect(dbMock).toHaveReceivedCommandWith(GetItemCommand, {
      TableName: TABLE,
      Key: { cluster: { S: 'prod' } },
      ConsistentRead: true,
    });
  });

  it('fails with TopologyNotFoundError when the cluster has no item', async () => {
    await expect(store().get('prod')).rejects.toBeInstanceOf(TopologyNotFoundError);
  });

  it('refuses an item of another cluster or whose version attribute disagrees with its document', async () => {
    // Prepare
    table.items.set('prod', { ...item(topology(2)), document: { S: JSON.stringify(topology(2, { cluster: 'x' })) } });
    table.items.set('other', { ...item(topology(2)), cluster: { S: 'other' }, version: { N: '3' } });

    // Act / Assess
    await expect(store().get('prod')).rejects.toThrow('holds the topology of cluster "x"');
    await expect(store().get('other')).rejects.toThrow(/holds the topology of cluster "prod"|differs/);
  });
});

describe('DynamoDbTopologyStore.put (a conditional write)', () => {
  it('writes the first document only if no item exists', async () => {
    // Act
    await store().put(topology(1));

    // Assess
    expect(dbMock).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(#c)',
    });
    expect(table.doc().version).toBe(1);
    await expect(store().put(topology(1, { primary: 'pg2' }))).rejects.toThrow(new TopologyConflictError(0, 1).message);
    expect(table.doc().primary).toBe('pg1');
  });

  it('writes version n+1 only over version n, in one request', async () => {
    // Prepare
    table.items.set('prod', item(topology(6)));

    // Act
    await store().put(topology(7, { primary: 'pg2' }));

    // Assess
    expect(dbMock).toHaveReceivedCommandTimes(PutItemCommand, 1);
    expect(dbMock).toHaveReceivedCommandWith(PutItemCommand, {
      ConditionExpression: '#v = :expected',
      ExpressionAttributeValues: { ':expected': { N: '6' } },
    });
    expect(dbMock).toHaveReceivedCommandTimes(GetItemCommand, 0);
    expect(table.doc()).toMatchObject({ version: 7, primary: 'pg2' });
  });

  it('refuses a stale write and names the version it found', async () => {
    // Prepare
    table.items.set('prod', item(topology(9)));

    // Act / Assess
    await expect(store().put(topology(7))).rejects.toThrow(new TopologyConflictError(6, 9).message);
    expect(table.doc().version).toBe(9);
  });

  it('refuses a version that is not a positive integer and writes nothing', async () => {
    await expect(store().put(topology(0))).rejects.toThrow('positive integer');
    await expect(store().put(topology(1.5))).rejects.toThrow('positive integer');
    expect(dbMock).toHaveReceivedCommandTimes(PutItemCommand, 0);
  });

  it('two writers from the same version: exactly one lands, the other is told and the winner stands', async () => {
    // Prepare
    table.items.set('prod', item(topology(3)));
    const [a, b] = [store(), store()];
    const readA = await a.get('prod');
    const readB = await b.get('prod');

    // Act
    const results = await Promise.allSettled([
      a.put({ ...readA, version: 4, primary: 'pg2' }),
      b.put({ ...readB, version: 4, primary: 'pg3' }),
    ]);

    // Assess
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(TopologyConflictError);
    expect(String(lost.reason.message)).toContain('expected version 3, found 4');
    const winner = results[0].status === 'fulfilled' ? 'pg2' : 'pg3';
    expect(table.doc()).toMatchObject({ version: 4, primary: winner });
  });

  it('three writers from the same version: one lands and the third is not overwritten by a restore', async () => {
    // Prepare: every writer has read version 3; the puts reach the table in the order c, a, b.
    table.items.set('prod', item(topology(3)));
    const order: string[] = [];
    table.beforePut = async (input) => {
      order.push(JSON.parse(input.Item!.document.S!).primary);
    };
    const writers = ['pg2', 'pg3', 'pg4'].map((primary) => ({ s: store(), primary }));

    // Act
    const results = [];
    for (const w of [writers[2], writers[0], writers[1]]) {
      results.push(
        await w.s.put({ ...topology(4), primary: w.primary }).then(
          () => 'won',
          (e: unknown) => (e instanceof TopologyConflictError ? 'conflict' : String(e)),
        ),
      );
    }

    // Assess
    expect(order).toEqual(['pg4', 'pg2', 'pg3']);
    expect(results).toEqual(['won', 'conflict', 'conflict']);
    expect(table.doc()).toMatchObject({ version: 4, primary: 'pg4' });
    expect(dbMock).toHaveReceivedCommandTimes(PutItemCommand, 3);
  });

  it('three concurrent read-modify-write updates all land, each on the one before', async () => {
    // Prepare
    table.items.set('prod', item(topology(1)));

    // Act
    await Promise.all(
      ['a', 'b', 'c'].map((w) =>
        updateTopology(deps(), (t) => ({
          ...t,
          history: [...t.history, { at: 'now', kind: 'test', detail: { w } }],
        })),
      ),
    );

    // Assess
    const t = table.doc();
    expect(t.version).toBe(4);
    expect(t.history.map((e) => e.detail.w).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a writer that dies before its write leaves the item as it was and blocks nobody', async () => {
    // Prepare: the first writer reads version 5, then its Lambda is killed (its put never arrives).
    table.items.set('prod', item(topology(5)));
    const dead = store();
    await dead.get('prod');

    // Act
    await store().put(topology(6, { primary: 'pg2' }));

    // Assess
    expect(table.doc()).toMatchObject({ version: 6, primary: 'pg2' });
    expect(dbMock).toHaveReceivedCommandTimes(PutItemCommand, 1);
  });

  it('a writer that dies mid-write (the request lands, the answer is lost) converges: its retry is a success, a rival is refused', async () => {
    // Prepare: the table applies the put, then the connection drops before the answer.
    table.items.set('prod', item(topology(5)));
    let drop = true;
    table.beforePut = async (input) => {
      if (drop) {
        drop = false;
        table.items.set('prod', structuredClone(input.Item!));
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      }
    };
    const mine = topology(6, { primary: 'pg2' });

    // Act
    await expect(store().put(mine)).rejects.toThrow('socket hang up');
    const retry = store().put(mine);
    const rival = store().put(topology(6, { primary: 'pg3' }));

    // Assess
    await expect(retry).resolves.toBeUndefined();
    await expect(rival).rejects.toBeInstanceOf(TopologyConflictError);
    expect(table.doc()).toMatchObject({ version: 6, primary: 'pg2' });
  });

  it('passes any other DynamoDB error through unchanged', async () => {
    // Prepare
    dbMock.on(PutItemCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act / Assess
    await expect(store().put(topology(2))).rejects.toThrow('Rate exceeded');
  });
});
