/**
 * `--dry-run` of an operator request: the trigger and the workflow's first step (failover: Assess;
 * planned work: its Precheck or Plan) run as they would, against ports where nothing leaves the
 * process: topology writes (the lease) land in a private copy, no execution starts, no node command
 * runs, no notification is sent. So the prechecks need no dry mode of their own, and a dry run
 * changes nothing by construction.
 */
import { step as assess } from '../failover/assess';
import type { FailoverInput } from '../failover/types';
import { step as maintenancePlan } from '../maintenance/plan';
import type { Deps, StartResult, TopologyStore, WorkflowName } from '../lib/ports';
import { TopologyConflictError } from '../lib/ports';
import type { Topology } from '../lib/topology';
import { step as rejoinPrecheck } from '../rejoin/precheck';
import { step as scaleInPrecheck } from '../scale/in-precheck';
import { step as scaleOutPrecheck } from '../scale/out-precheck';
import { step as switchoverPrecheck } from '../switchover/precheck';

export interface DryRunResult {
  action: 'dry-run';
  workflow: WorkflowName;
  /** true: the workflow would go ahead now; false: it would refuse or do nothing (see reason). */
  wouldProceed: boolean;
  reason: string;
  executionName: string;
  /** What the first step found (Assess's decision and probes, a precheck's result). */
  checks?: unknown;
}

export class DryRunStop extends Error {
  constructor(what: string) {
    super(`dry run: ${what} is not done in a dry run`);
    this.name = 'DryRunStop';
  }
}

/** A topology store whose writes stay in memory: compare-and-set against the copy, as the real one does. */
export class ScratchTopology implements TopologyStore {
  private copy?: Topology;
  constructor(private readonly real: TopologyStore) {}

  async get(cluster: string): Promise<Topology> {
    return structuredClone(this.copy ?? (await this.real.get(cluster)));
  }

  async put(next: Topology): Promise<void> {
    const cur = this.copy ?? (await this.real.get(next.cluster));
    if (cur.version !== next.version - 1) throw new TopologyConflictError(next.version - 1, cur.version);
    this.copy = structuredClone(next);
  }
}

export interface DryDeps extends Deps {
  started: { workflow: WorkflowName; name: string; input: unknown }[];
}

export function dryRunDeps(deps: Deps): DryDeps {
  const started: DryDeps['started'] = [];
  const topology = new ScratchTopology(deps.topology);
  const stop = (what: string) => () => Promise.reject(new DryRunStop(what));
  return {
    started,
    cluster: deps.cluster,
    topology,
    nodes: {
      run: stop('a node command'),
      start: stop('a node command'),
      poll: stop('a node command'),
      cancel: stop('a node command'),
    } as unknown as Deps['nodes'],
    instances: { forceStop: stop('stopping an instance'), provision: stop('provisioning an instance') },
    workflows: {
      async start(workflow, name, input): Promise<StartResult> {
        started.push({ workflow, name, input });
        return { executionName: name, executionArn: `dry-run:${name}`, started: true };
      },
    },
    metrics: { put: async () => undefined },
    notifier: { notify: async () => undefined } as unknown as Deps['notifier'],
    get secrets() {
      return deps.secrets;
    },
    now: () => deps.now(),
    sleep: (ms) => deps.sleep(ms),
    log: (msg, fields) => deps.log(`dry run: ${msg}`, fields),
  };
}

/** Run `startIt` (the trigger) with dry deps, then the first step of the workflow it would start. */
export async function dryRun(deps: Deps, startIt: (d: Deps) => Promise<unknown>): Promise<DryRunResult> {
  const d = dryRunDeps(deps);
  await startIt(d);
  const s = d.started[0];
  if (!s) throw new Error('dry run: the request would start no workflow');
  const base = { action: 'dry-run' as const, workflow: s.workflow, executionName: s.name };
  if (s.workflow === 'failover') {
    const a = await assess(s.input as FailoverInput, d);
    return { ...base, wouldProceed: a.decision === 'failover', reason: `${a.decision}: ${a.reason}`, checks: a };
  }
  const first: Record<Exclude<WorkflowName, 'failover'>, (input: never, deps: Deps) => Promise<unknown>> = {
    switchover: switchoverPrecheck,
    rejoin: rejoinPrecheck,
    maintenance: maintenancePlan,
    'scale-out': scaleOutPrecheck,
    'scale-in': scaleInPrecheck,
  };
  try {
    const checks = await first[s.workflow](s.input as never, d);
    return { ...base, wouldProceed: true, reason: 'every precheck passed', checks };
  } catch (e) {
    if (/Refused$|^InvalidInput$/.test((e as Error).name))
      return { ...base, wouldProceed: false, reason: (e as Error).message };
    throw e;
  }
}
