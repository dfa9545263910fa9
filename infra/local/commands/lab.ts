/** `pgwarden lab ...`: the local lab's commands (state in $PGWARDEN_LAB_DIR or ./.lab). */
import { Lab, renderStatus } from '../lab';
import { UsageError } from '../usage-error';
import type { Group, Leaf, OptionSpec } from './table';

const JSON_OPTION: Record<string, OptionSpec> = { json: { type: 'boolean', help: 'machine-readable output' } };

function intFlag(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got "${String(v)}"`);
  return n;
}

const up: Leaf = {
  name: 'up',
  usage: 'lab up [--port-base N] [--pgpools N] [--standbys N] [--profile lab|aws-sim]',
  summary: 'bring the lab up (idempotent); aws-sim adds AWS latencies',
  options: {
    'port-base': {
      type: 'string',
      arg: 'N',
      help: 'first port of the lab (default $PGWARDEN_PORT_BASE or 25432); fixed when the lab is created',
    },
    pgpools: { type: 'string', arg: 'N', help: 'pgpool-II instances, 1 to 4 (default $PGWARDEN_PGPOOLS or 1)' },
    standbys: { type: 'string', arg: 'N', help: 'standbys, 1 to 6 (default 2)' },
    profile: { type: 'string', arg: 'P', help: 'timing profile: lab (default) or aws-sim (AWS latencies)' },
    ...JSON_OPTION,
  },
  async run({ values }) {
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
  },
};

const status: Leaf = {
  name: 'status',
  usage: 'lab status [--json] [--show-secrets]',
  summary: "roles, timelines, LSNs, lag, pgpool's view, endpoints",
  options: {
    'show-secrets': { type: 'boolean', help: 'passwords in the endpoints (otherwise ***: see the secrets file named)' },
    ...JSON_OPTION,
  },
  async run({ values }) {
    const s = await new Lab().status({ showSecrets: values['show-secrets'] === true });
    console.log(values.json ? JSON.stringify(s, null, 2) : renderStatus(s));
    return 0;
  },
};

const down: Leaf = {
  name: 'down',
  usage: 'lab down [--purge]',
  summary: 'stop everything the lab started (--purge: delete its state)',
  options: { purge: { type: 'boolean', help: "also delete the lab's folder" }, ...JSON_OPTION },
  async run({ values }) {
    await new Lab().down({ purge: values.purge === true });
    if (values.json) console.log(JSON.stringify({ stopped: true, purged: values.purge === true }));
    else console.log(values.purge ? 'lab stopped and its state deleted' : 'lab stopped');
    return 0;
  },
};

type NodeAction = 'kill' | 'stop' | 'start' | 'freeze' | 'thaw';

const NODE_ACTIONS: Record<NodeAction, string> = {
  kill: "SIGKILL the node's postmaster (a crash)",
  stop: 'clean stop of a node',
  start: "start a node (a fenced node's instance is only reported running)",
  freeze: 'SIGSTOP every process of a node (a frozen host)',
  thaw: 'SIGCONT every process of a frozen node',
};

const nodeAction = (action: NodeAction): Leaf => ({
  name: action,
  usage: `lab ${action} <node>`,
  summary: NODE_ACTIONS[action],
  options: JSON_OPTION,
  args: [1, 1],
  async run({ positionals, values }) {
    const l = new Lab();
    const name = positionals[0];
    l.node(name); // unknown node: clear error before anything changes
    const say = (text: string, json: Record<string, unknown>) =>
      console.log(values.json ? JSON.stringify({ node: name, action, ...json }) : text);
    if (action === 'kill') {
      const pid = l.kill(name);
      say(`SIGKILL sent to ${name}'s postmaster (pid ${pid})`, { pid });
    } else if (action === 'freeze' || action === 'thaw') {
      const pids = action === 'freeze' ? l.freeze(name) : l.thaw(name);
      say(`${action === 'freeze' ? 'SIGSTOP' : 'SIGCONT'} sent to ${pids.length} processes of ${name}`, { pids });
    } else if (action === 'stop') {
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
  },
});

const partition: Leaf = {
  name: 'partition',
  usage: 'lab partition [<node> [--from pgpool|standbys|control|all|<part>,...]]',
  summary:
    'cut a node (or pgpoolN, control) off from those parts\nof the lab, both ways, silently (root; no node: list)',
  options: {
    from: {
      type: 'string',
      arg: 'PARTS',
      help: 'pgpool, standbys, control, all (default) or parts by name, comma-separated',
    },
  },
  args: [0, 1],
  notes: 'each part runs in its own cgroup; the rules are in iptables chain PGWARDEN-<port base>',
  async run({ positionals, values }) {
    const p = new Lab().partitions;
    if (positionals.length === 0) {
      if (values.from !== undefined) throw new UsageError('--from needs a node');
      const now = p.list();
      console.log(now.length ? now.map((x) => `${x.a} <-/-> ${x.b}`).join('\n') : 'no partitions');
      return 0;
    }
    const cut = p.partition(positionals[0], (values.from as string | undefined) ?? 'all');
    console.log(`partitioned: ${cut.map((x) => `${x.a} <-/-> ${x.b}`).join(', ')}`);
    return 0;
  },
};

const heal: Leaf = {
  name: 'heal',
  usage: 'lab heal [<node>]',
  summary: "heal that node's partitions (no node: all of them)",
  args: [0, 1],
  async run({ positionals }) {
    const healed = new Lab().partitions.heal(positionals[0]);
    console.log(
      healed.length ? `healed: ${healed.map((x) => `${x.a} <-> ${x.b}`).join(', ')}` : 'no partitions to heal',
    );
    return 0;
  },
};

const TRIGGERS = ['pgpool', 'alarm', 'ec2', 'operator'];

const drill: Leaf = {
  name: 'drill',
  usage:
    'lab drill failover [--fault kill|freeze|partition] [--trigger pgpool|alarm|ec2|operator] [--seconds S] [--json]',
  summary: 'write load (S s before the fault, default 0.5), a fault of\nthe primary, timings, lost writes',
  options: {
    fault: {
      type: 'string',
      arg: 'F',
      help: 'kill (SIGKILL, default), freeze (SIGSTOP) or partition (cut off from everything)',
    },
    trigger: { type: 'string', arg: 'T', help: `what notices the failure: ${TRIGGERS.join(', ')} (default pgpool)` },
    seconds: { type: 'string', arg: 'S', help: 'seconds of write load before the fault, 0 to 600 (default 0.5)' },
    ...JSON_OPTION,
  },
  args: [1, 1],
  notes: 'exit status: 0 the failover succeeded and no acknowledged write was lost; 1 otherwise',
  async run({ positionals, values }) {
    if (positionals[0] !== 'failover') throw new UsageError(`unknown drill "${positionals[0]}" (drills: failover)`);
    const trigger = (values.trigger ?? 'pgpool') as string;
    if (!TRIGGERS.includes(trigger)) throw new UsageError(`--trigger must be one of ${TRIGGERS.join(', ')}`);
    const { failoverDrill, renderDrill, parseFault, faultProblem } = require('../drill') as typeof import('../drill');
    let fault: ReturnType<typeof parseFault>;
    try {
      fault = parseFault(values.fault as string | undefined);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const why = faultProblem(fault, trigger as 'pgpool');
    if (why) throw new UsageError(`--fault ${fault} --trigger ${trigger}: ${why}`);
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    if (seconds !== undefined && !(seconds >= 0 && seconds <= 600))
      throw new UsageError(`--seconds must be a number of seconds from 0 to 600, got "${String(values.seconds)}"`);
    const r = await failoverDrill(new Lab(), {
      trigger: trigger as 'pgpool',
      fault,
      ...(seconds !== undefined ? { warmupMs: seconds * 1000 } : {}),
    });
    console.log(values.json ? JSON.stringify(r, null, 2) : renderDrill(r));
    return r.lostWrites === 0 && r.outcome === 'succeeded' ? 0 : 1;
  },
};

export const LAB: Group = {
  name: 'lab',
  usage: 'lab <command> [options]',
  summary: 'the local lab: PostgreSQL, pgpool-II, Redis and the control plane on loopback',
  heading: 'lab commands (local lab; state in $PGWARDEN_LAB_DIR or ./.lab; most also take --json):',
  commands: [up, status, down, ...(Object.keys(NODE_ACTIONS) as NodeAction[]).map(nodeAction), partition, heal, drill],
};
