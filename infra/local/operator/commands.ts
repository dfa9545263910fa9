/**
 * The operator commands, the same for the lab and for AWS: status, failover, switchover, rejoin,
 * maintenance, scale, pause, resume, history. A workflow command asks for confirmation (or --yes),
 * prints the execution's name at once, streams each step as it finishes and exits 0 only when the
 * workflow did what was asked: 1 when it was refused, did nothing or failed; 2 for a usage error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidRequest } from './lab-target';
import {
  Refusal,
  TargetError,
  type DryRunResult,
  type ExecutionView,
  type OperatorRequest,
  type OperatorTarget,
  type StatusView,
  type StepView,
  type WorkflowAction,
} from './target';

export class UsageError extends Error {
  constructor(
    msg: string,
    readonly help?: string,
  ) {
    super(msg);
    this.name = 'UsageError';
  }
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Whether a person can answer a prompt. */
  interactive: boolean;
  ask(question: string): Promise<string>;
}

export interface TargetOptions {
  aws: boolean;
  stage?: string;
  region?: string;
  cluster?: string;
}

export type TargetFactory = (o: TargetOptions) => OperatorTarget;

type Values = Record<string, string | boolean | undefined>;
type Options = NonNullable<ParseArgsConfig['options']>;

const TARGET_OPTIONS: Options = {
  aws: { type: 'boolean' },
  stage: { type: 'string' },
  region: { type: 'string' },
  cluster: { type: 'string' },
  json: { type: 'boolean' },
};
const TARGET_HELP = `target (default: the lab in $PGWARDEN_LAB_DIR, or AWS when PGWARDEN_TARGET=aws):
  --aws                 an AWS deployment, reached with your AWS credentials
  --region R            its region (default $AWS_REGION)
  --cluster C           its cluster (default $PGWARDEN_CLUSTER or main)
  --stage S             its Serverless stage (default $PGWARDEN_STAGE or dev)
  --json                machine-readable output (workflow commands: one JSON object per line)`;
const WORKFLOW_OPTIONS: Options = {
  yes: { type: 'boolean', short: 'y' },
  'no-wait': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  reason: { type: 'string' },
};
const WORKFLOW_HELP = `  --yes, -y             do not ask for confirmation (required when stdin is not a terminal)
  --dry-run             run the prechecks only and say whether the workflow would go ahead; changes nothing
  --no-wait             print the execution's name and return without following it
  --reason TEXT         why (recorded in the topology history and the notifications)`;

interface WorkflowSpec {
  usage: string;
  summary: string;
  options: Options;
  help: string;
  build(v: Values, positionals: string[]): OperatorRequest;
  question(r: OperatorRequest): string;
}

const intOption = (v: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) > max)
    throw new UsageError(`--${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}`);
  return Number(v);
};
const noPositionals = (p: string[], hint: string) => {
  if (p.length) throw new UsageError(`unexpected argument "${p[0]}"${hint ? ` (${hint})` : ''}`);
};
const reasonOf = (v: Values) => (v.reason === undefined ? {} : { reason: String(v.reason) });

export const WORKFLOWS: Record<WorkflowAction, WorkflowSpec> = {
  failover: {
    usage: 'failover [--reason TEXT]',
    summary: 'fail over from the primary if it has failed (Assess decides; a healthy primary stays)',
    options: {},
    help: '',
    build: (v, p) => (noPositionals(p, ''), { action: 'failover', ...reasonOf(v) }),
    question: () => 'Start a failover? The primary is fenced and a standby promoted if the primary is found failed.',
  },
  switchover: {
    usage: 'switchover [--to NODE] [--max-lag-bytes N]',
    summary: 'planned switchover to a standby, losing nothing',
    options: { to: { type: 'string' }, 'max-lag-bytes': { type: 'string' } },
    help: `  --to NODE             the standby to promote (default: the best one)
  --max-lag-bytes N     refuse when the target lags more than this`,
    build: (v, p) => {
      noPositionals(p, 'use --to NODE');
      const lag = intOption(v['max-lag-bytes'], 'max-lag-bytes');
      return {
        action: 'switchover',
        ...reasonOf(v),
        ...(v.to !== undefined ? { to: String(v.to) } : {}),
        ...(lag !== undefined ? { maxLagBytes: lag } : {}),
      };
    },
    question: (r) => `Switch over the primary to ${r.to ?? 'the best standby'}? Open sessions through pgpool end.`,
  },
  rejoin: {
    usage: 'rejoin NODE [--method auto|rewind|basebackup]',
    summary: 'rejoin a failed or fenced node as a standby (failback)',
    options: { method: { type: 'string' } },
    help: `  --method M            auto (default: rewind, else a fresh base backup), rewind or basebackup`,
    build: (v, p) => {
      if (p.length !== 1) throw new UsageError('rejoin needs exactly one node: pgwarden rejoin NODE');
      if (v.method !== undefined && !['auto', 'rewind', 'basebackup'].includes(String(v.method)))
        throw new UsageError('--method must be auto, rewind or basebackup');
      return {
        action: 'rejoin',
        node: p[0],
        ...reasonOf(v),
        ...(v.method !== undefined ? { method: String(v.method) } : {}),
      };
    },
    question: (r) => `Rejoin ${r.node} as a standby? Its data directory may be rewound or replaced.`,
  },
  maintenance: {
    usage: 'maintenance [--command CMD]',
    summary: 'rolling maintenance: each standby, then a switchover, then the old primary',
    options: { command: { type: 'string' } },
    help: `  --command CMD         what to run on each node (default: restart)`,
    build: (v, p) => (
      noPositionals(p, 'use --command CMD'),
      { action: 'maintenance', ...reasonOf(v), ...(v.command !== undefined ? { command: String(v.command) } : {}) }
    ),
    question: (r) =>
      `Run rolling maintenance (${r.command ?? 'restart'}) on every node? It includes a switchover of the primary.`,
  },
  scale: {
    usage: 'scale out | scale in [NODE] [--drain-seconds N]',
    summary: 'add a standby (out) or remove one (in; default the most recently added)',
    options: { 'drain-seconds': { type: 'string' } },
    help: `  --drain-seconds N     scale in: wait up to N s (max 600) for the standby's sessions to end`,
    build: (v, p) => {
      const [dir, node, extra] = p;
      const drain = intOption(v['drain-seconds'], 'drain-seconds', 600);
      if (dir === 'out' && p.length === 1 && drain === undefined)
        return { action: 'scale', direction: 'out', ...reasonOf(v) };
      if (dir === 'in' && extra === undefined)
        return {
          action: 'scale',
          direction: 'in',
          ...(node !== undefined ? { node } : {}),
          ...reasonOf(v),
          ...(drain !== undefined ? { drainSeconds: drain } : {}),
        };
      throw new UsageError('usage: pgwarden scale out | pgwarden scale in [NODE] [--drain-seconds N]');
    },
    question: (r) =>
      r.direction === 'out'
        ? 'Add a standby to the cluster?'
        : `Remove standby ${r.node ?? '(the most recently added)'}?`,
  },
};

const OTHER_HELP: Record<string, { usage: string; summary: string; help: string }> = {
  status: { usage: 'status', summary: 'the topology, the alarms and the recent executions', help: '' },
  pause: { usage: 'pause [--reason TEXT]', summary: 'pause automation (no automatic failover)', help: '' },
  resume: { usage: 'resume [--reason TEXT]', summary: 'resume automation', help: '' },
  history: {
    usage: 'history [EXECUTION] [--limit N]',
    summary: 'recent executions with their steps (or one execution)',
    help: '  --limit N             how many executions (default 5)',
  },
};

export const OPERATOR_COMMANDS = [...Object.keys(WORKFLOWS), ...Object.keys(OTHER_HELP), 'executions'];

/** The command list of the CLI's usage text. */
export function operatorUsage(): string {
  const rows = [
    ...Object.values(WORKFLOWS).map((w) => [w.usage, w.summary]),
    ...Object.values(OTHER_HELP).map((w) => [w.usage, w.summary]),
  ];
  return rows.map(([u, s]) => `  ${u.padEnd(48)} ${s}`).join('\n');
}

function helpOf(cmd: string): string {
  const w = WORKFLOWS[cmd as WorkflowAction];
  const spec = w ?? OTHER_HELP[cmd === 'executions' ? 'history' : cmd];
  const options = [
    spec.help,
    w ? WORKFLOW_HELP : '',
    cmd === 'pause' || cmd === 'resume' ? '  --reason TEXT         why (recorded)' : '',
  ].filter(Boolean);
  return [
    `usage: pgwarden ${spec.usage} [target options]${w ? ' [--yes] [--dry-run] [--no-wait]' : ''}`,
    '',
    spec.summary,
    '',
    ...(options.length ? ['options:', ...options, ''] : []),
    TARGET_HELP,
    ...(w
      ? [
          '',
          'exit status: 0 the workflow succeeded; 1 it was refused, found nothing to do or failed',
          '(with --dry-run: it would not go ahead); 2 usage error',
        ]
      : []),
  ].join('\n');
}

function parse(cmd: string, argv: string[], options: Options) {
  let r;
  try {
    r = parseArgs({
      args: argv,
      options: { ...options, ...TARGET_OPTIONS, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''), helpOf(cmd));
  }
  return { values: r.values as Values, positionals: r.positionals };
}

function targetOptions(v: Values): TargetOptions {
  const aws = v.aws === true || (process.env.PGWARDEN_TARGET ?? 'lab') === 'aws';
  if (!aws)
    for (const k of ['stage', 'region', 'cluster'])
      if (v[k] !== undefined) throw new UsageError(`--${k} names an AWS deployment: add --aws`);
  return {
    aws,
    ...(v.stage !== undefined ? { stage: String(v.stage) } : {}),
    ...(v.region !== undefined ? { region: String(v.region) } : {}),
    ...(v.cluster !== undefined ? { cluster: String(v.cluster) } : {}),
  };
}

/** Run one operator command; returns the exit status. */
export async function runOperator(cmd: string, argv: string[], io: Io, makeTarget: TargetFactory): Promise<number> {
  const spec = WORKFLOWS[cmd as WorkflowAction];
  const { values, positionals } = parse(
    cmd,
    argv,
    spec
      ? { ...spec.options, ...WORKFLOW_OPTIONS }
      : cmd === 'history' || cmd === 'executions'
        ? { limit: { type: 'string' } }
        : cmd === 'pause' || cmd === 'resume'
          ? { reason: { type: 'string' } }
          : {},
  );
  if (values.help) {
    io.out(helpOf(cmd));
    return 0;
  }
  const json = values.json === true;
  const emit = (obj: Record<string, unknown>) => io.out(JSON.stringify(obj));
  try {
    if (spec) {
      const req = spec.build(values, positionals);
      const target = makeTarget(targetOptions(values));
      return await workflow(target, req, spec, values, io, json);
    }
    if (cmd === 'pause' || cmd === 'resume') {
      noPositionals(positionals, '');
      const target = makeTarget(targetOptions(values));
      const reason = values.reason === undefined ? `operator ${cmd}` : String(values.reason);
      await target.setPaused(cmd === 'pause', reason);
      if (json) emit({ paused: cmd === 'pause', reason });
      else io.out(`automation ${cmd === 'pause' ? 'paused' : 'resumed'} on ${target.label}`);
      return 0;
    }
    if (cmd === 'status') {
      noPositionals(positionals, '');
      const s = await makeTarget(targetOptions(values)).status();
      io.out(json ? JSON.stringify(s, null, 2) : renderStatus(s));
      return 0;
    }
    if (cmd === 'history' || cmd === 'executions') {
      if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, helpOf(cmd));
      const limit = intOption(values.limit, 'limit', 100) ?? 5;
      const target = makeTarget(targetOptions(values));
      const list = positionals.length ? [await target.execution(positionals[0])] : await target.history(limit);
      if (json) io.out(JSON.stringify({ executions: list }, null, 2));
      else io.out(list.map(renderExecution).join('\n\n') || 'no executions');
      return 0;
    }
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(e.message, e.help ?? helpOf(cmd));
    if (e instanceof InvalidRequest) {
      io.err(`pgwarden ${cmd}: ${e.message}`);
      return 2;
    }
    if (e instanceof Refusal) {
      if (json) emit({ event: 'done', outcome: 'refused', reason: e.message });
      io.err(`pgwarden ${cmd}: refused: ${e.message}`);
      return 1;
    }
    if (e instanceof TargetError) {
      io.err(`pgwarden ${cmd}: ${e.message}`);
      return 1;
    }
    throw e;
  }
  throw new UsageError(`unknown command "${cmd}"`);
}

async function workflow(
  target: OperatorTarget,
  req: OperatorRequest,
  spec: WorkflowSpec,
  values: Values,
  io: Io,
  json: boolean,
): Promise<number> {
  const emit = (obj: Record<string, unknown>) => io.out(JSON.stringify(obj));
  if (values['dry-run']) {
    const r = await target.dryRun(req);
    if (json) emit({ event: 'dry-run', ...r });
    else io.out(renderDryRun(r));
    return r.wouldProceed ? 0 : 1;
  }
  if (!values.yes) {
    if (!io.interactive) {
      io.err(
        `pgwarden ${req.action}: refusing to act on ${target.label} without confirmation: stdin is not a terminal (pass --yes); nothing changed`,
      );
      return 2;
    }
    const a = (await io.ask(`${spec.question(req)}\nTarget: ${target.label}. Proceed? [y/N] `)).trim().toLowerCase();
    if (a !== 'y' && a !== 'yes') {
      io.err('aborted; nothing changed');
      return 1;
    }
  }
  const s = await target.start(req);
  if (json) emit({ event: 'started', ...s });
  else io.out(`${s.workflow} ${s.started ? 'started' : 'already running or done, following'}: ${s.executionName}`);
  if (values['no-wait']) return 0;
  const steps: StepView[] = [];
  const ended = await target.watch(s, (st) => {
    steps.push(st);
    if (json) emit({ event: 'step', ...st });
    else io.out(renderStep(st));
  });
  const o = outcome(ended, steps);
  if (json) emit({ event: 'done', outcome: o.outcome, reason: o.reason, execution: { ...ended, steps } });
  else io.out(`${s.workflow} ${ended.name}: ${o.outcome}${o.reason ? `: ${o.reason}` : ''}`);
  return o.outcome === 'succeeded' ? 0 : 1;
}

/** What an ended execution means to the operator who asked for it. */
export function outcome(
  e: ExecutionView,
  steps: StepView[] = e.steps ?? [],
): { outcome: 'succeeded' | 'refused' | 'no action' | 'failed' | 'running'; reason?: string } {
  const out = (e.output ?? {}) as { assess?: { decision?: string; reason?: string }; record?: { summary?: string } };
  if (e.status === 'RUNNING') return { outcome: 'running' };
  if (e.status === 'SUCCEEDED') {
    // A failover that found nothing to do (false alarm, paused, another workflow acting) succeeded
    // as a workflow, but the failover asked for did not happen.
    if (e.workflow === 'failover' && (out.assess?.decision ?? 'failover') !== 'failover')
      return { outcome: 'no action', reason: `${out.assess?.decision}: ${out.assess?.reason ?? ''}` };
    return { outcome: 'succeeded', ...(out.record?.summary ? { reason: out.record.summary } : {}) };
  }
  const err = e.error ?? { Error: e.status, Cause: '' };
  const failedStep = [...steps].reverse().find((s) => s.error);
  if (/Refused$/.test(err.Error)) return { outcome: 'refused', reason: causeText(err.Cause) };
  return {
    outcome: 'failed',
    reason: `${err.Error}${err.Cause ? `: ${causeText(err.Cause)}` : ''}${failedStep ? ` (at ${failedStep.state})` : ''}`,
  };
}

/** A Lambda error as Step Functions hands it on ("{\"errorMessage\": ...}", maybe prefixed): its message. */
function causeText(s: string): string {
  const m = /^[A-Za-z]+: ([\s\S]*)$/.exec(s);
  for (const c of [s, m?.[1]]) {
    if (!c) continue;
    try {
      const j = JSON.parse(c) as { errorMessage?: string; message?: string };
      if (j.errorMessage ?? j.message) return (j.errorMessage ?? j.message)!;
    } catch {
      // not JSON
    }
  }
  return m ? m[1] : s;
}

function renderStep(s: StepView): string {
  const ms = s.durationMs === undefined ? '' : `${s.durationMs} ms`;
  return `  ${s.error ? '✗' : '✓'} ${s.state.padEnd(26)} ${ms.padStart(9)}${s.attempts > 1 ? ` (${s.attempts} attempts)` : ''}${s.error ? `  ${s.error.slice(0, 200)}` : ''}`;
}

function renderDryRun(r: DryRunResult): string {
  return `dry run of ${r.workflow}: ${r.wouldProceed ? 'would go ahead' : 'would NOT go ahead'}: ${r.reason}\nnothing was changed`;
}

function renderExecution(e: ExecutionView): string {
  const o = outcome(e);
  const head = `${e.startedAt}  ${e.workflow.padEnd(11)} ${e.status.padEnd(9)} ${e.name}${e.durationMs !== undefined ? `  ${e.durationMs} ms` : ''}${o.outcome !== 'succeeded' && o.outcome !== 'running' ? `  (${o.outcome}${o.reason ? `: ${o.reason.slice(0, 160)}` : ''})` : ''}`;
  return [head, ...(e.steps ?? []).map(renderStep)].join('\n');
}

export function renderStatus(s: StatusView): string {
  const lines = [
    `${s.target}: cluster ${s.cluster}, primary ${s.primary}, timeline ${s.timeline}, automation ${s.paused ? `PAUSED (${s.pausedReason ?? 'no reason'})` : 'active'}`,
    s.lease ? `acting: ${s.lease.workflow} ${s.lease.execution} (lease until ${s.lease.expiresAt})` : 'acting: nothing',
    '',
    'nodes:',
    ...s.nodes.map(
      (n) => `  ${n.name.padEnd(8)} ${n.role.padEnd(8)} ${n.host}:${n.port}${n.maintenance ? '  (maintenance)' : ''}`,
    ),
    '',
    'alarms:',
    ...(s.alarms.length
      ? s.alarms.map(
          (a) => `  ${a.state.padEnd(17)} ${a.name}${a.state === 'ALARM' && a.reason ? `  ${a.reason}` : ''}`,
        )
      : ['  none']),
    '',
    'recent executions:',
    ...(s.executions.length
      ? s.executions.map((e) => `  ${e.startedAt}  ${e.workflow.padEnd(11)} ${e.status.padEnd(9)} ${e.name}`)
      : ['  none']),
  ];
  return lines.join('\n');
}

export type { StatusView };
