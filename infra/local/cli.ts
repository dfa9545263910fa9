/**
 * pgwarden CLI. `pgwarden lab ...` manages the local lab; the operator commands (status, failover,
 * switchover, rejoin, maintenance, scale, pause, resume, history) act on the lab through its control
 * plane or on an AWS deployment (./operator/).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Lab, LabError, renderStatus } from './lab';
import { operatorUsage, UsageError as OperatorUsageError } from './operator/commands';

const OPERATOR_USAGE = operatorUsage();
import { PartitionError } from './partition';
import { UsageError } from './usage-error';

export { UsageError };

const USAGE = `usage: pgwarden <command> [options]

lab commands (local lab; state in $PGWARDEN_LAB_DIR or ./.lab):
  (every lab command and doctor also take --json)
  lab up [--port-base N] [--pgpools N] [--standbys N] [--profile lab|aws-sim]
                                    bring the lab up (idempotent); aws-sim adds AWS latencies
  lab status [--json]                                   roles, timelines, LSNs, lag, pgpool's view, endpoints
  lab down [--purge]                                    stop everything the lab started (--purge: delete its state)
  lab kill <node>                                       SIGKILL the node's postmaster (a crash)
  lab stop <node> | lab start <node>                    clean stop / start of a node
  lab freeze <node> | lab thaw <node>                   SIGSTOP / SIGCONT every process of a node
  lab partition [<node> [--from pgpool|standbys|control|all|<part>,...]]
                                                        cut a node (or pgpoolN, control) off from those parts
                                                        of the lab, both ways, silently (root; no node: list)
  lab heal [<node>]                                     heal that node's partitions (no node: all of them)
  lab drill failover [--trigger pgpool|alarm|ec2|operator] [--seconds S] [--json]
                                                        write load (S s before the kill, default 0.5), SIGKILL
                                                        the primary, timings, lost writes
operator commands (the lab's control plane, or AWS with --aws [--region R] [--cluster C] [--stage S];
every one takes --json and --help; workflow commands take --yes, --dry-run, --no-wait):
${OPERATOR_USAGE}
other commands:
  traces [--json] [--limit N] [--id TRACE]
                                    recent X-Ray traces of the app (the lab's collector), as timelines
  metrics [--json]                  current value of every metric, per node
  digest <files...> [--format md|json|html] [--since T] [--until T] [--prefix P]
  demo                              lab up, write load, failover drill, zero-loss check, summary
  bench <lab|failover|digest|switchover|rejoin|app>
  soak [--seed N] [--faults N] [--json] [--keep]   seeded random faults under write load, safety checked
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
        const { values } = parse(rest, { install: { type: 'boolean' }, json: { type: 'boolean' } });
        const { ensureSystemPackages, missingRequirements } = require('./doctor');
        if (values.install) ensureSystemPackages();
        const missing = missingRequirements() as string[];
        if (values.json) console.log(JSON.stringify({ missing }));
        else console.log(missing.length ? `missing: ${missing.join('; ')}` : 'all system packages present');
        return missing.length ? 1 : 0;
      }
      case 'failover':
      case 'switchover':
      case 'rejoin':
      case 'maintenance':
      case 'scale':
      case 'pause':
      case 'resume':
      case 'status':
      case 'history':
      case 'executions':
        return await (require('./operator') as typeof import('./operator')).main(cmd, rest);
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
      case 'soak': {
        const { main: soakMain } = require('./soak') as typeof import('./soak');
        return await soakMain(rest);
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
    if (e instanceof OperatorUsageError) {
      console.error(`pgwarden ${cmd}: ${e.message}\n\n${e.help ?? USAGE}`);
      return 2;
    }
    if (e instanceof LabError || e instanceof PartitionError) {
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
        json: { type: 'boolean' },
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
      const s = await l.status();
      if (values.json) console.log(JSON.stringify({ ...s, readyInMs: Date.now() - t0 }, null, 2));
      else console.log(`${renderStatus(s)}\nready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    }
    case 'status': {
      const { values } = parse(rest, { json: { type: 'boolean' } });
      const s = await lab().status();
      console.log(values.json ? JSON.stringify(s, null, 2) : renderStatus(s));
      return 0;
    }
    case 'down': {
      const { values } = parse(rest, { purge: { type: 'boolean' }, json: { type: 'boolean' } });
      await lab().down({ purge: values.purge === true });
      if (values.json) console.log(JSON.stringify({ stopped: true, purged: values.purge === true }));
      else console.log(values.purge ? 'lab stopped and its state deleted' : 'lab stopped');
      return 0;
    }
    case 'kill':
    case 'stop':
    case 'start':
    case 'freeze':
    case 'thaw': {
      const { positionals, values } = parse(rest, { json: { type: 'boolean' } }, 1);
      const l = lab();
      const name = positionals[0];
      l.node(name); // unknown node: clear error before anything changes
      const say = (text: string, json: Record<string, unknown>) =>
        console.log(values.json ? JSON.stringify({ node: name, action: sub, ...json }) : text);
      if (sub === 'kill') {
        const pid = l.kill(name);
        say(`SIGKILL sent to ${name}'s postmaster (pid ${pid})`, { pid });
      } else if (sub === 'freeze' || sub === 'thaw') {
        const pids = sub === 'freeze' ? l.freeze(name) : l.thaw(name);
        say(`${sub === 'freeze' ? 'SIGSTOP' : 'SIGCONT'} sent to ${pids.length} processes of ${name}`, { pids });
      } else if (sub === 'stop') {
        await l.stop(name);
        say(`${name} stopped`, {});
      } else {
        if ((await l.start(name)) === 'fenced')
          say(
            `${name} is fenced: PostgreSQL not started; its instance is reported running (the rejoin brings it back as a standby)`,
            { fenced: true },
          );
        else say(`${name} started`, {});
      }
      return 0;
    }
    case 'partition': {
      const { positionals, values } = parse(rest, { from: { type: 'string' } }, [0, 1]);
      const p = lab().partitions;
      if (positionals.length === 0) {
        if (values.from !== undefined) throw new UsageError('--from needs a node');
        const now = p.list();
        console.log(now.length ? now.map((x) => `${x.a} <-/-> ${x.b}`).join('\n') : 'no partitions');
        return 0;
      }
      const cut = p.partition(positionals[0], (values.from as string | undefined) ?? 'all');
      console.log(`partitioned: ${cut.map((x) => `${x.a} <-/-> ${x.b}`).join(', ')}`);
      return 0;
    }
    case 'heal': {
      const { positionals } = parse(rest, {}, [0, 1]);
      const healed = lab().partitions.heal(positionals[0]);
      console.log(
        healed.length ? `healed: ${healed.map((x) => `${x.a} <-> ${x.b}`).join(', ')}` : 'no partitions to heal',
      );
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
      const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
      if (seconds !== undefined && !(seconds >= 0 && seconds <= 600))
        throw new UsageError(`--seconds must be a number of seconds from 0 to 600, got "${String(values.seconds)}"`);
      const { failoverDrill, renderDrill } = require('./drill');
      const r = await failoverDrill(lab(), {
        trigger: trigger as 'pgpool',
        ...(seconds !== undefined ? { warmupMs: seconds * 1000 } : {}),
      });
      console.log(values.json ? JSON.stringify(r, null, 2) : renderDrill(r));
      return r.lostWrites === 0 && r.outcome === 'succeeded' ? 0 : 1;
    }
    case undefined:
      throw new UsageError('missing lab command');
    default:
      throw new UsageError(`unknown lab command "${sub}"`);
  }
}
