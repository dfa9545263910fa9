/** The CLI's other commands: traces, metrics, digest, demo, bench, soak, doctor. Each loads its module when run. */
import type { Command, Leaf, OptionSpec, Passthrough } from './table';

type Main = { main(argv: string[]): Promise<number> };

const leaf = (c: Leaf): Leaf => c;
const passthrough = (c: Omit<Passthrough, 'passthrough'>): Passthrough => ({ ...c, passthrough: true });

const JSON_OPTION: Record<string, OptionSpec> = { json: { type: 'boolean', help: 'machine-readable output' } };

/** Kept in step with bench/index.ts, which says the same when the name is missing or unknown. */
const BENCHES = 'lab|failover|digest|switchover|rejoin|app';

export const TOOLS: Command[] = [
  leaf({
    name: 'traces',
    usage: 'traces [--json] [--limit N] [--id TRACE]',
    summary: "recent X-Ray traces of the app (the lab's collector), as timelines",
    options: {
      ...JSON_OPTION,
      limit: { type: 'string', arg: 'N', help: 'how many traces (default 10)' },
      id: { type: 'string', arg: 'TRACE', help: 'one trace, by its id' },
    },
    // traces-cli.ts parses argv again (the same options)
    run: (_p, argv) => (require('../traces-cli') as Main).main(argv),
  }),
  leaf({
    name: 'metrics',
    usage: 'metrics [--json]',
    summary: 'current value of every metric, per node',
    options: JSON_OPTION,
    run: ({ values }) => (require('../cli-metrics') as typeof import('../cli-metrics')).metricsCommand(!!values.json),
  }),
  passthrough({
    name: 'digest',
    usage: 'digest <files...> [--format md|json|html] [--since T] [--until T] [--prefix P]',
    summary: 'an incident report of PostgreSQL logs (stderr, jsonlog, csvlog; .gz; - for stdin)',
    // The digest parses its own arguments and answers --help itself; bin/pgwarden runs it from
    // bin/digest-bundle.js without loading this CLI at all.
    ownHelp: true,
    run: (argv) => (require('../../../functions/logdigest/cli') as Main).main(argv),
  }),
  leaf({
    name: 'demo',
    usage: 'demo [--trigger pgpool|alarm|ec2|operator]',
    summary: 'lab up, write load, failover drill, zero-loss check, summary',
    options: {
      trigger: { type: 'string', arg: 'T', help: "the failover drill's trigger (default pgpool)" },
    },
    // demo.ts parses argv again (the same option)
    run: (_p, argv) => (require('../demo') as typeof import('../demo')).demo(argv),
  }),
  passthrough({
    name: 'bench',
    usage: `bench <${BENCHES}> [bench options]`,
    summary: 'timings against their goals (each bench reads its own options)',
    notes: 'npm run bench -- <name> does the same',
    run: (argv) => (require('../../../bench/index') as { bench(a: string[]): Promise<number> }).bench(argv),
  }),
  leaf({
    name: 'soak',
    usage: 'soak [--seed N] [--faults N] [--json] [--keep]',
    summary: 'seeded random faults under write load, safety checked',
    options: {
      seed: { type: 'string', arg: 'N', help: 'seed of the fault schedule (default: from the clock; printed)' },
      faults: { type: 'string', arg: 'N', help: 'how many faults, 1 to 1000 (default 10)' },
      ...JSON_OPTION,
      keep: { type: 'boolean', help: 'leave the soak lab up afterwards' },
      'port-base': { type: 'string', arg: 'N', help: "first port of the soak's own lab (default 25532)" },
    },
    notes: 'the soak brings up a lab of its own ($PGWARDEN_LAB_DIR-soak) and brings it down afterwards',
    // soak.ts parses argv again (the same options)
    run: (_p, argv) => (require('../soak') as typeof import('../soak')).main(argv),
  }),
  leaf({
    name: 'doctor',
    usage: 'doctor [--install] [--json]',
    summary: 'check (and install) the Debian packages the lab needs',
    options: { install: { type: 'boolean', help: 'install what is missing (root)' }, ...JSON_OPTION },
    notes: 'exit status: 0 every package is present; 1 some are missing',
    async run({ values }) {
      const { ensureSystemPackages, missingRequirements } = require('../doctor') as typeof import('../doctor');
      if (values.install) ensureSystemPackages();
      const missing = missingRequirements();
      if (values.json) console.log(JSON.stringify({ missing }));
      else console.log(missing.length ? `missing: ${missing.join('; ')}` : 'all system packages present');
      return missing.length ? 1 : 0;
    },
  }),
];
