/**
 * pgwarden CLI. `pgwarden lab ...` manages the local lab; the operator commands (failover,
 * switchover, rejoin, pause, resume) talk to the lab's control plane, as they would call
 * StartExecution in AWS.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Lab, LabError, type LabStatus } from './lab';

export class UsageError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'UsageError';
  }
}

const USAGE = `usage: pgwarden <command> [options]

lab commands (local lab; state in $PGWARDEN_LAB_DIR or ./.lab):
  lab up [--port-base N] [--pgpools N] [--standbys N] [--profile lab|aws-sim]
                                    bring the lab up (idempotent); aws-sim adds AWS latencies
  lab status [--json]                                   roles, timelines, LSNs, lag, pgpool's view, endpoints
  lab down [--purge]                                    stop everything the lab started (--purge: delete its state)
  lab kill <node>                                       SIGKILL the node's postmaster (a crash)
  lab stop <node> | lab start <node>                    clean stop / start of a node
  lab freeze <node> | lab thaw <node>                   SIGSTOP / SIGCONT every process of a node
  lab drill failover [--trigger pgpool|alarm|ec2|operator] [--json]
                                                        write load, SIGKILL the primary, timings, lost writes
operator commands (through the control plane):
  failover [--reason TEXT]          start the failover workflow
  switchover [--to NODE]            planned switchover (zero loss)
  rejoin <node>                     rejoin a failed or fenced node as a standby (failback)
  maintenance [--command CMD]       rolling maintenance: standbys, switchover, old primary
  scale out | scale in [NODE]       add / remove a standby
  pause [--reason TEXT] | resume    pause / resume automation for the cluster
  executions [--json]               recent workflow executions
  traces [--json] [--limit N] [--id TRACE]
                                    recent X-Ray traces of the app (the lab's collector), as timelines
  metrics [--json]                  current value of every metric, per node
other:
  digest <files...> [--format md|json|html] [--since T] [--until T] [--prefix P]
  demo                              lab up, write load, failover drill, zero-loss check, summary
  bench <lab|failover|digest|switchover|rejoin|app>
  doctor [--install]                check (and install) the Debian packages the lab needs
`;

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(
  argv: string[],
  options: ParseArgsConfig['options'],
  positionals: number | [number, number] = 0,
): Parsed {
  let r: Parsed;
  try {
    r = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  if (r.values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const [min, max] = typeof positionals === 'number' ? [positionals, positionals] : positionals;
  if (r.positionals.length < min) throw new UsageError(`missing argument`);
  if (r.positionals.length > max) throw new UsageError(`unexpected argument "${r.positionals[max]}"`);
  return r;
}

function intFlag(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got "${String(v)}"`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'lab':
        return await labCommand(rest);
      case 'doctor': {
        const { values } = parse(rest, { install: { type: 'boolean' } });
        const { ensureSystemPackages, missingRequirements } = require('./doctor');
        if (values.install) ensureSystemPackages();
        const missing = missingRequirements() as string[];
        console.log(missing.length ? `missing: ${missing.join('; ')}` : 'all system packages present');
        return missing.length ? 1 : 0;
      }
      case 'failover':
      case 'pause':
      case 'resume':
      case 'executions':
        return await operatorCommand(cmd, rest);
      case 'switchover':
      case 'rejoin':
      case 'maintenance':
      case 'scale':
        return await (require('./cli-workflows') as { main(cmd: string, a: string[]): Promise<number> }).main(
          cmd,
          rest,
        );
      case 'traces':
        return await (require('./traces-cli') as { main(a: string[]): Promise<number> }).main(rest);
      case 'metrics': {
        const { values } = parse(rest, { json: { type: 'boolean' } });
        return await (require('./cli-metrics') as typeof import('./cli-metrics')).metricsCommand(!!values.json);
      }
      case 'digest': {
        const mod = require('../../functions/logdigest/cli') as { main(a: string[]): Promise<number> };
        return await mod.main(rest);
      }
      case 'demo': {
        const { demo } = require('./demo');
        return await demo(rest);
      }
      case 'bench': {
        const { bench } = require('../../bench/index');
        return await bench(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`pgwarden: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof LabError) {
      console.error(`pgwarden: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function labCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const lab = () => new Lab();
  switch (sub) {
    case 'up': {
      const { values } = parse(rest, {
        'port-base': { type: 'string' },
        pgpools: { type: 'string' },
        standbys: { type: 'string' },
        profile: { type: 'string' },
      });
      const l = new Lab({
        profile: values.profile as string | undefined,
        portBase: intFlag(values['port-base'], 'port-base'),
        pgpools: intFlag(values.pgpools, 'pgpools'),
        standbys: intFlag(values.standbys, 'standbys'),
      });
      const t0 = Date.now();
      await l.up();
      console.log(renderStatus(await l.status()));
      console.log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    }
    case 'status': {
      const { values } = parse(rest, { json: { type: 'boolean' } });
      const s = await lab().status();
      console.log(values.json ? JSON.stringify(s, null, 2) : renderStatus(s));
      return 0;
    }
    case 'down': {
      const { values } = parse(rest, { purge: { type: 'boolean' } });
      await lab().down({ purge: values.purge === true });
      console.log(values.purge ? 'lab stopped and its state deleted' : 'lab stopped');
      return 0;
    }
    case 'kill':
    case 'stop':
    case 'start':
    case 'freeze':
    case 'thaw': {
      const { positionals } = parse(rest, {}, 1);
      const l = lab();
      const name = positionals[0];
      l.node(name); // unknown node: clear error before anything changes
      if (sub === 'kill') console.log(`SIGKILL sent to ${name}'s postmaster (pid ${l.kill(name)})`);
      else if (sub === 'freeze') console.log(`SIGSTOP sent to ${l.freeze(name).length} processes of ${name}`);
      else if (sub === 'thaw') console.log(`SIGCONT sent to ${l.thaw(name).length} processes of ${name}`);
      else if (sub === 'stop') {
        await l.stop(name);
        console.log(`${name} stopped`);
      } else {
        await l.start(name);
        console.log(`${name} started`);
      }
      return 0;
    }
    case 'drill': {
      const { positionals, values } = parse(
        rest,
        { trigger: { type: 'string' }, json: { type: 'boolean' }, seconds: { type: 'string' } },
        1,
      );
      if (positionals[0] !== 'failover') throw new UsageError(`unknown drill "${positionals[0]}" (drills: failover)`);
      const trigger = (values.trigger ?? 'pgpool') as string;
      if (!['pgpool', 'alarm', 'ec2', 'operator'].includes(trigger)) {
        throw new UsageError(`--trigger must be one of pgpool, alarm, ec2, operator`);
      }
      const { failoverDrill, renderDrill } = require('./drill');
      const r = await failoverDrill(lab(), { trigger: trigger as 'pgpool' });
      console.log(values.json ? JSON.stringify(r, null, 2) : renderDrill(r));
      return r.lostWrites === 0 && r.outcome === 'succeeded' ? 0 : 1;
    }
    case undefined:
      throw new UsageError('missing lab command');
    default:
      throw new UsageError(`unknown lab command "${sub}"`);
  }
}

async function operatorCommand(cmd: string, argv: string[]): Promise<number> {
  const l = new Lab();
  const api = async (method: string, path: string, body?: unknown) => {
    let r: Response;
    try {
      r = await fetch(`${l.apiUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new LabError(`the lab's control plane is not reachable at ${l.apiUrl} (run: pgwarden lab up)`);
    }
    const j = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new LabError(String(j.error ?? r.statusText));
    return j;
  };
  switch (cmd) {
    case 'pause':
    case 'resume': {
      const { values } = parse(argv, { reason: { type: 'string' } });
      const j = await api('POST', `/v1/${cmd}`, { reason: (values.reason as string | undefined) ?? `operator ${cmd}` });
      console.log(`automation ${j.paused ? 'paused' : 'active'}`);
      return 0;
    }
    case 'failover': {
      const { values } = parse(argv, { reason: { type: 'string' }, wait: { type: 'boolean' } });
      const j = await api('POST', `/v1/failover`, {
        reason: values.reason ?? 'operator request',
        wait: values.wait ?? true,
      });
      console.log(JSON.stringify(j, null, 2));
      return 0;
    }
    case 'executions': {
      const { values } = parse(argv, { json: { type: 'boolean' } });
      const j = await api('GET', `/v1/executions`);
      if (values.json) console.log(JSON.stringify(j, null, 2));
      else {
        for (const e of (j.executions as {
          name: string;
          workflow: string;
          status: string;
          startedAt: string;
          outcome?: string;
        }[]) ?? []) {
          console.log(`${e.startedAt}  ${e.workflow.padEnd(11)} ${e.status.padEnd(10)} ${e.name}  ${e.outcome ?? ''}`);
        }
      }
      return 0;
    }
  }
  throw new UsageError(`unknown command "${cmd}"`);
}

export function renderStatus(s: LabStatus): string {
  const rows: string[][] = [
    ['node', 'role', 'port', 'timeline', 'lsn (current/received/replayed)', 'upstream', 'lag', 'sync', 'note'],
  ];
  for (const n of s.nodes) {
    const lsn =
      n.role === 'primary' ? (n.currentLsn ?? '') : n.up ? `${n.receiveLsn ?? '-'} / ${n.replayLsn ?? '-'}` : '';
    const lag =
      n.role === 'standby' && n.lagBytes !== undefined ? `${n.lagBytes} B ${Math.round(n.replayLagMs ?? 0)} ms` : '';
    const note = [n.fenced ? 'FENCED' : '', n.role === 'standby' && !n.streaming ? 'not streaming' : '', n.error ?? '']
      .filter(Boolean)
      .join(' ');
    rows.push([
      n.name,
      n.role,
      String(n.port),
      n.timeline !== undefined ? String(n.timeline) : '',
      lsn,
      n.upstream ?? '',
      lag,
      n.syncState ?? '',
      note,
    ]);
  }
  const out = [
    `cluster ${s.cluster} (profile ${s.profile})  automation: ${s.automation}  primary of record: ${s.topologyPrimary}, timeline ${s.timeline}`,
    `synchronous replication: ${s.synchronous}`,
    table(rows),
    '',
  ];
  for (const p of s.pgpools) {
    const pr: string[][] = [
      [`${p.name} :${p.port} (pcp :${p.pcpPort})`, 'status', 'role', 'selects', 'lb weight', 'delay'],
    ];
    if (!p.up) pr.push([p.error ?? 'down', '', '', '', '', '']);
    for (const n of p.nodes)
      pr.push([
        `  ${n.id} ${n.name}`,
        n.status,
        n.role,
        String(n.selectCount),
        String(n.lbWeight),
        String(n.replicationDelay),
      ]);
    out.push(table(pr), '');
  }
  out.push(`endpoint (clients use this): ${s.endpoint}`);
  for (const n of s.nodes) out.push(`  ${n.name}: ${n.connection}`);
  out.push(`redis: ${s.services.redis} (${s.redisUp ? 'up' : 'down'})`);
  out.push(`control plane: ${s.services.controlPlane} (${s.controlPlaneUp ? 'up' : 'down'})`);
  out.push(`x-ray collector: ${s.services.xray}    app: ${s.services.app}`);
  out.push(`state: ${s.dir}`);
  return out.join('\n');
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
