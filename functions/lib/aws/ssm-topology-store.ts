/**
 * TopologyStore over SSM Parameter Store: one String parameter per cluster holding the topology
 * document as compact JSON.
 *
 * Compare-and-set. Parameter Store has no conditional write, so `put` does the best it can:
 *   1. read the document and its parameter Version `pv`; refuse unless document.version === next.version - 1;
 *   2. overwrite; PutParameter returns the new parameter Version `v`;
 *   3. if `v === pv + 1` nobody wrote in between: done. Otherwise another writer landed between our
 *      read and our write, and by compare-and-set rules the first one to land wins: we put back the
 *      document we overwrote (version `v - 1`) and fail with TopologyConflictError.
 * A first write (no parameter yet) uses Overwrite=false, which IS atomic.
 *
 * The race window, honestly: between step 2 and the restore in step 3 (one round trip, tens of ms)
 * a reader can see the losing document, and a third concurrent writer can interleave with the
 * restore. The workflows keep this rare by design (one execution per cluster and timeline), and every
 * writer that loses is told so. Pure last-writer-wins without the restore would lose the winner's
 * change silently.
 *
 * Size: standard parameters hold 4 KB, advanced 8 KB. We always ask for Intelligent-Tiering, which
 * picks advanced only when the value needs it and never tries to downgrade an advanced parameter
 * (an explicit Tier=Standard on an advanced parameter fails). Above 8 KB the oldest history events
 * are dropped until the document fits; the drop is logged.
 */
import {
  GetParameterCommand,
  ParameterTier,
  ParameterType,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { DEFAULT_TOPOLOGY_PARAMETER } from '../env';
import { TopologyConflictError, type TopologyStore } from '../ports';
import type { Topology } from '../topology';

export const PARAMETER_VALUE_MAX_BYTES = 8192;
export { DEFAULT_TOPOLOGY_PARAMETER };

export class TopologyNotFoundError extends Error {
  constructor(
    public readonly cluster: string,
    public readonly parameter: string,
  ) {
    super(`no topology for cluster "${cluster}" (SSM parameter ${parameter} does not exist)`);
    this.name = 'TopologyNotFoundError';
  }
}

export interface SsmTopologyStoreOptions {
  /** Parameter name; `{cluster}` is replaced by the cluster name. */
  parameterTemplate?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Stored {
  doc: Topology;
  /** Parameter Store's own version of the parameter (not the document's version). */
  parameterVersion: number;
  value: string;
}

export class SsmTopologyStore implements TopologyStore {
  private readonly template: string;

  constructor(
    private readonly ssm: SSMClient,
    private readonly opts: SsmTopologyStoreOptions = {},
  ) {
    this.template = opts.parameterTemplate ?? DEFAULT_TOPOLOGY_PARAMETER;
  }

  parameterName(cluster: string): string {
    return this.template.split('{cluster}').join(cluster);
  }

  async get(cluster: string): Promise<Topology> {
    const name = this.parameterName(cluster);
    const stored = await this.read(name, cluster);
    if (!stored) throw new TopologyNotFoundError(cluster, name);
    return stored.doc;
  }

  async put(next: Topology): Promise<void> {
    const name = this.parameterName(next.cluster);
    const expected = next.version - 1;
    const current = await this.read(name, next.cluster);
    const actual = current?.doc.version ?? 0;
    if (actual !== expected) throw new TopologyConflictError(expected, actual);
    const value = this.serialize(next);

    if (!current) {
      try {
        await this.write(name, value, false);
        return;
      } catch (err) {
        if (!(err instanceof Error && err.name === 'ParameterAlreadyExists')) throw err;
        const winner = await this.read(name, next.cluster);
        throw new TopologyConflictError(expected, winner?.doc.version ?? 0);
      }
    }

    const written = await this.write(name, value, true);
    if (written === current.parameterVersion + 1) return;

    // Someone else wrote between our read and our write: theirs landed first, so theirs stands.
    const overwritten = await this.read(`${name}:${written - 1}`, next.cluster);
    if (overwritten) {
      await this.write(name, overwritten.value, true);
      this.opts.log?.('topology write lost a race; restored the concurrent write', {
        parameter: name,
        ourVersion: next.version,
        restoredVersion: overwritten.doc.version,
      });
    }
    throw new TopologyConflictError(expected, overwritten?.doc.version ?? actual);
  }

  private async read(name: string, cluster: string): Promise<Stored | undefined> {
    let out;
    try {
      out = await this.ssm.send(new GetParameterCommand({ Name: name }));
    } catch (err) {
      if (err instanceof Error && (err.name === 'ParameterNotFound' || err.name === 'ParameterVersionNotFound')) {
        return undefined;
      }
      throw err;
    }
    const value = out.Parameter?.Value;
    const parameterVersion = out.Parameter?.Version;
    if (value === undefined || parameterVersion === undefined) {
      throw new Error(`SSM parameter ${name} returned no value or version`);
    }
    let doc: Topology;
    try {
      doc = JSON.parse(value) as Topology;
    } catch (err) {
      throw new Error(`SSM parameter ${name} does not hold valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (typeof doc !== 'object' || doc === null || typeof doc.version !== 'number') {
      throw new Error(`SSM parameter ${name} does not hold a topology document (no numeric "version")`);
    }
    if (doc.cluster !== cluster) {
      throw new Error(`SSM parameter ${name} holds the topology of cluster "${doc.cluster}", not "${cluster}"`);
    }
    return { doc, parameterVersion, value };
  }

  private async write(name: string, value: string, overwrite: boolean): Promise<number> {
    const out = await this.ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: value,
        Type: ParameterType.STRING,
        DataType: 'text',
        Tier: ParameterTier.INTELLIGENT_TIERING,
        Overwrite: overwrite,
      }),
    );
    if (out.Version === undefined) throw new Error(`PutParameter ${name} returned no version`);
    return out.Version;
  }

  /** Compact JSON, dropping the oldest history events only when the 8 KB limit forces it. */
  private serialize(doc: Topology): string {
    let value = JSON.stringify(doc);
    if (Buffer.byteLength(value, 'utf8') <= PARAMETER_VALUE_MAX_BYTES) return value;
    let dropped = 0;
    let history = doc.history;
    while (history.length > 0 && Buffer.byteLength(value, 'utf8') > PARAMETER_VALUE_MAX_BYTES) {
      history = history.slice(1);
      dropped++;
      value = JSON.stringify({ ...doc, history });
    }
    if (Buffer.byteLength(value, 'utf8') > PARAMETER_VALUE_MAX_BYTES) {
      throw new Error(
        `topology of cluster "${doc.cluster}" exceeds ${PARAMETER_VALUE_MAX_BYTES} bytes even without history`,
      );
    }
    this.opts.log?.('topology history trimmed to fit Parameter Store', {
      cluster: doc.cluster,
      dropped,
      kept: history.length,
    });
    return value;
  }
}
