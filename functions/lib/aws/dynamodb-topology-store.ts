/**
 * TopologyStore over DynamoDB: one item per cluster, {cluster, version, document}, in the table the
 * stack creates (PGWARDEN_TOPOLOGY_TABLE; point-in-time recovery on, encrypted with the stack's key).
 *
 * Compare-and-set is one conditional PutItem: it lands only if the stored version is the one the
 * writer read (`version = next.version - 1`; for the first document, only if no item exists).
 * DynamoDB evaluates the condition and writes atomically, so two or three writers racing from the same
 * version produce exactly one winner, and a writer that dies at any point leaves either its whole
 * write or nothing: there is no restore step that a throttled or dead Lambda could miss.
 *
 * A write whose response was lost (the SDK retries it, or the step is retried) finds its own document
 * stored: that is success, not a conflict.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { TopologyConflictError, type TopologyStore } from '../ports';
import type { Topology } from '../topology';
import { parseTopologyItem, TopologyNotFoundError } from './topology-item';

export { TopologyNotFoundError };

/** DynamoDB's item limit is 400 KB; keep a margin for the key and attribute names. */
export const ITEM_DOCUMENT_MAX_BYTES = 380_000;

export interface DynamoDbTopologyStoreOptions {
  table: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class DynamoDbTopologyStore implements TopologyStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly opts: DynamoDbTopologyStoreOptions,
  ) {
    if (!opts.table) throw new Error('DynamoDbTopologyStore needs a table name');
  }

  async get(cluster: string): Promise<Topology> {
    const out = await this.db.send(
      new GetItemCommand({ TableName: this.opts.table, Key: { cluster: { S: cluster } }, ConsistentRead: true }),
    );
    if (!out.Item) throw new TopologyNotFoundError(cluster, this.opts.table);
    return this.parse(out.Item, cluster);
  }

  async put(next: Topology): Promise<void> {
    if (!Number.isInteger(next.version) || next.version < 1) {
      throw new Error(`topology version must be a positive integer, got ${JSON.stringify(next.version)}`);
    }
    const expected = next.version - 1;
    const document = this.serialize(next);
    const first = expected === 0;
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.opts.table,
          Item: { cluster: { S: next.cluster }, version: { N: String(next.version) }, document: { S: document } },
          ConditionExpression: first ? 'attribute_not_exists(#c)' : '#v = :expected',
          ExpressionAttributeNames: first ? { '#c': 'cluster' } : { '#v': 'version' },
          ...(first ? {} : { ExpressionAttributeValues: { ':expected': { N: String(expected) } } }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const old = err.Item;
      if (!old) throw new TopologyConflictError(expected, 0);
      // Our own earlier attempt landed (its response was lost): the stored document is ours.
      if (old.document?.S === document) return;
      throw new TopologyConflictError(expected, this.parse(old, next.cluster).version);
    }
  }

  private parse(item: Record<string, AttributeValue>, cluster: string): Topology {
    return parseTopologyItem(item, cluster);
  }

  /** Compact JSON, dropping the oldest history events only when the item limit forces it. */
  private serialize(doc: Topology): string {
    let value = JSON.stringify(doc);
    if (Buffer.byteLength(value, 'utf8') <= ITEM_DOCUMENT_MAX_BYTES) return value;
    let history = doc.history;
    while (history.length > 0 && Buffer.byteLength(value, 'utf8') > ITEM_DOCUMENT_MAX_BYTES) {
      history = history.slice(Math.max(1, Math.floor(history.length / 10)));
      value = JSON.stringify({ ...doc, history });
    }
    if (Buffer.byteLength(value, 'utf8') > ITEM_DOCUMENT_MAX_BYTES) {
      throw new Error(
        `topology of cluster "${doc.cluster}" exceeds ${ITEM_DOCUMENT_MAX_BYTES} bytes even without history`,
      );
    }
    this.opts.log?.('topology history trimmed to fit a DynamoDB item', {
      cluster: doc.cluster,
      dropped: doc.history.length - history.length,
      kept: history.length,
    });
    return value;
  }
}
