import { TopologyConflictError, type TopologyStore } from '../../functions/lib/ports';
import type { Topology } from '../../functions/lib/topology';
import { type CustomResourceEvent, respond, seed } from '../../functions/topology/seed';

/** The port's contract (compare-and-set on version) over a map: what the seed relies on. */
class MemoryStore implements TopologyStore {
  docs = new Map<string, Topology>();
  async get(cluster: string) {
    const d = this.docs.get(cluster);
    if (!d) throw new Error('not found');
    return structuredClone(d);
  }
  async put(next: Topology) {
    const actual = this.docs.get(next.cluster)?.version ?? 0;
    if (actual !== next.version - 1) throw new TopologyConflictError(next.version - 1, actual);
    this.docs.set(next.cluster, structuredClone(next));
  }
}

const first: Topology = {
  cluster: 'main',
  version: 1,
  primary: 'pg1',
  timeline: 1,
  paused: false,
  syncQuorum: 1,
  nodes: [{ name: 'pg1', host: '10.40.48.10', port: 5432, backendId: 0, role: 'primary', instanceId: 'i-1' }],
  pgpools: [],
  history: [],
};

const event = (RequestType: CustomResourceEvent['RequestType'], doc: unknown = first): CustomResourceEvent => ({
  RequestType,
  ResponseURL: 'https://example.invalid/response',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/pgwarden-main-dev/x',
  RequestId: 'r-1',
  LogicalResourceId: 'TopologySeed',
  ResourceProperties: { Document: typeof doc === 'string' ? doc : JSON.stringify(doc) },
});

function deps() {
  const topology = new MemoryStore();
  const logs: string[] = [];
  return { topology, cluster: 'main', log: (m: string) => void logs.push(m), logs };
}

describe('topology seed (Custom::TopologySeed)', () => {
  it('writes the first document on Create', async () => {
    const d = deps();
    await expect(seed(event('Create'), d)).resolves.toEqual({ written: true, reason: 'first document written' });
    expect(d.topology.docs.get('main')).toEqual(first);
  });

  it('keeps a document that exists already (a retained table): pgwarden owns it', async () => {
    const d = deps();
    d.topology.docs.set('main', { ...first, version: 42, primary: 'pg3' });
    await expect(seed(event('Create'), d)).resolves.toMatchObject({ written: false });
    expect(d.topology.docs.get('main')).toMatchObject({ version: 42, primary: 'pg3' });
  });

  it.each(['Update', 'Delete'] as const)('changes nothing on %s, whatever the new document says', async (type) => {
    const d = deps();
    d.topology.docs.set('main', { ...first, version: 7, primary: 'pg2' });
    const res = await seed(event(type, { ...first, primary: 'pg9' }), d);
    expect(res.written).toBe(false);
    expect(d.topology.docs.get('main')).toMatchObject({ version: 7, primary: 'pg2' });
  });

  it('refuses a document that is not JSON, of another cluster, or not version 1, and writes nothing', async () => {
    const d = deps();
    await expect(seed(event('Create', '{nope'), d)).rejects.toThrow('Document is not JSON');
    await expect(seed(event('Create', { ...first, cluster: 'other' }), d)).rejects.toThrow('cluster "other"');
    await expect(seed(event('Create', { ...first, version: 3 }), d)).rejects.toThrow('version 1, not 3');
    expect(d.topology.docs.size).toBe(0);
  });

  it('answers CloudFormation with the custom resource protocol, success or failure', async () => {
    const sent: { url: string; body: Record<string, unknown> }[] = [];
    const put = async (url: string, body: string) => void sent.push({ url, body: JSON.parse(body) });
    await respond(event('Create'), { ok: true, result: { written: true, reason: 'first document written' } }, put);
    await respond(event('Create'), { ok: false, error: 'Document is not JSON' }, put);
    expect(sent[0]).toEqual({
      url: 'https://example.invalid/response',
      body: expect.objectContaining({
        Status: 'SUCCESS',
        PhysicalResourceId: 'topology-seed-TopologySeed',
        StackId: event('Create').StackId,
        RequestId: 'r-1',
        LogicalResourceId: 'TopologySeed',
        Data: { Written: 'true' },
      }),
    });
    expect(sent[1].body).toMatchObject({ Status: 'FAILED', Reason: 'Document is not JSON' });
  });
});
