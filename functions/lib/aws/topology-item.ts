/**
 * The topology item of DynamoDB ({cluster, version, document}) read back into a Topology, checked.
 * No SDK command here: readers that only GetItem (the app's dashboard) and the store that also writes
 * share this without the reader's code reaching PutItem (infra/aws/handler-ports.js derives roles
 * from the files a handler imports).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Topology } from '../topology';

export class TopologyNotFoundError extends Error {
  constructor(
    public readonly cluster: string,
    public readonly table: string,
  ) {
    super(`no topology for cluster "${cluster}" (no item in DynamoDB table ${table})`);
    this.name = 'TopologyNotFoundError';
  }
}

export function parseTopologyItem(item: Record<string, AttributeValue>, cluster: string): Topology {
  const text = item.document?.S;
  if (text === undefined) throw new Error(`topology item of cluster "${cluster}" has no document`);
  let doc: Topology;
  try {
    doc = JSON.parse(text) as Topology;
  } catch (err) {
    throw new Error(`topology item of cluster "${cluster}" is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof doc !== 'object' || doc === null || typeof doc.version !== 'number') {
    throw new Error(`topology item of cluster "${cluster}" holds no topology document (no numeric "version")`);
  }
  if (doc.cluster !== cluster) {
    throw new Error(`topology item of cluster "${cluster}" holds the topology of cluster "${doc.cluster}"`);
  }
  if (String(doc.version) !== item.version?.N) {
    throw new Error(
      `topology item of cluster "${cluster}": version attribute ${item.version?.N} differs from the document's ${doc.version}`,
    );
  }
  return doc;
}
