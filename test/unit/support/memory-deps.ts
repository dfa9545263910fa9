/** Deps for unit tests of domain steps: the topology in memory (compare-and-set), nothing else wired. */
import { TopologyConflictError, type Deps, type TopologyStore } from '../../../functions/lib/ports';
import type { Topology } from '../../../functions/lib/topology';

export class MemoryTopology implements TopologyStore {
  constructor(public current: Topology) {}
  async get(): Promise<Topology> {
    return structuredClone(this.current);
  }
  async put(next: Topology): Promise<void> {
    if (next.version !== this.current.version + 1)
      throw new TopologyConflictError(next.version - 1, this.current.version);
    this.current = structuredClone(next);
  }
}

const unused = (what: string) =>
  new Proxy({}, { get: () => () => Promise.reject(new Error(`${what} is not wired in this unit test`)) });

export function memoryDeps(t: Topology, extra: Partial<Deps> = {}): Deps & { topology: MemoryTopology } {
  return {
    cluster: t.cluster,
    topology: new MemoryTopology(t),
    nodes: unused('nodes') as Deps['nodes'],
    instances: unused('instances') as Deps['instances'],
    workflows: unused('workflows') as Deps['workflows'],
    metrics: { put: async () => undefined },
    notifier: { notify: async () => undefined },
    secrets: {
      admin: async () => ({ user: 'pgwarden', password: 'x', database: 'postgres' }),
      pgpool: async () => ({ user: 'pgpool', password: 'x', database: 'postgres' }),
    },
    now: () => new Date(),
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    log: () => undefined,
    ...extra,
  } as Deps & { topology: MemoryTopology };
}

export function topology(extra: Partial<Topology> = {}): Topology {
  const node = (name: string, backendId: number, port: number, role: 'primary' | 'standby') => ({
    name,
    host: '127.0.0.1',
    port,
    backendId,
    role,
    instanceId: `lab:${name}`,
  });
  return {
    cluster: 'c',
    version: 1,
    primary: 'pg1',
    timeline: 1,
    paused: false,
    syncQuorum: 1,
    nodes: [node('pg1', 0, 1, 'primary'), node('pg2', 1, 2, 'standby'), node('pg3', 2, 3, 'standby')],
    pgpools: [],
    history: [],
    ...extra,
  };
}
