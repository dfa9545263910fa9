/**
 * The topology's first document, written once: the handler of the stack's `Custom::TopologySeed`.
 * On Create it inserts the document CloudFormation built from the instances (a conditional insert: an
 * existing item, e.g. in a table retained from an earlier stack, is left as it is). On Update and
 * Delete it does nothing: from the first write on, pgwarden owns the topology and no deploy resets it.
 * It always answers CloudFormation (a custom resource that gets no answer blocks the stack for an hour).
 */
import { TopologyConflictError, type Deps } from '../lib/ports';
import type { Topology } from '../lib/topology';

export interface CustomResourceEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceProperties: { Document?: string; [k: string]: unknown };
}

export interface SeedResult {
  written: boolean;
  reason: string;
}

export async function seed(
  event: CustomResourceEvent,
  deps: Pick<Deps, 'topology' | 'cluster' | 'log'>,
): Promise<SeedResult> {
  if (event.RequestType !== 'Create') {
    return { written: false, reason: `${event.RequestType}: the topology belongs to pgwarden now; left as it is` };
  }
  let doc: Topology;
  try {
    doc = JSON.parse(String(event.ResourceProperties.Document)) as Topology;
  } catch (err) {
    throw new Error(`Document is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc.cluster !== deps.cluster) throw new Error(`Document is for cluster "${doc.cluster}", not "${deps.cluster}"`);
  if (doc.version !== 1) throw new Error(`the first document has version 1, not ${doc.version}`);
  try {
    await deps.topology.put(doc);
  } catch (err) {
    if (!(err instanceof TopologyConflictError)) throw err;
    deps.log('topology seed: an item exists already; kept', { cluster: doc.cluster });
    return { written: false, reason: 'an item exists already (kept)' };
  }
  return { written: true, reason: 'first document written' };
}

/** The custom resource protocol: PUT the outcome to the pre-signed ResponseURL. */
export async function respond(
  event: CustomResourceEvent,
  outcome: { ok: true; result: SeedResult } | { ok: false; error: string },
  put: (url: string, body: string) => Promise<void> = httpPut,
): Promise<void> {
  const body = JSON.stringify({
    Status: outcome.ok ? 'SUCCESS' : 'FAILED',
    Reason: (outcome.ok ? outcome.result.reason : outcome.error).slice(0, 1000),
    PhysicalResourceId: event.PhysicalResourceId ?? `topology-seed-${event.LogicalResourceId}`,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: outcome.ok ? { Written: String(outcome.result.written) } : {},
  });
  await put(event.ResponseURL, body);
}

async function httpPut(url: string, body: string): Promise<void> {
  // The pre-signed S3 URL expects no content type.
  const res = await fetch(url, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!res.ok) throw new Error(`custom resource response: HTTP ${res.status}`);
}

export async function handler(event: CustomResourceEvent): Promise<void> {
  const { awsDeps } = await import('../lib/aws/deps');
  const deps = awsDeps();
  try {
    const result = await seed(event, deps);
    deps.log('topology seed', { requestType: event.RequestType, ...result });
    await respond(event, { ok: true, result });
  } catch (err) {
    deps.log('topology seed failed', { error: err });
    await respond(event, { ok: false, error: err instanceof Error ? err.message : String(err) });
  }
}
