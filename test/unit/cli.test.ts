/**
 * The CLI's command table (issue 16 item 3): the global usage lists every entry, `pgwarden <cmd>
 * --help` and `pgwarden lab <sub> --help` print that command's own help and exit 0, and a wrong
 * command line exits 2 with the message and the help of the command concerned. No lab is touched.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, SECTIONS } from '../../infra/local/cli';
import { isGroup, type Command } from '../../infra/local/commands/table';

const BIN = join(__dirname, '..', '..', 'bin', 'pgwarden');
const NO_LAB = mkdtempSync(join(tmpdir(), 'pgw-cli-'));
const savedLabDir = process.env.PGWARDEN_LAB_DIR;

let logged: string[];
let errors: string[];
let written: string[];
beforeAll(() => (process.env.PGWARDEN_LAB_DIR = join(NO_LAB, 'lab')));
afterAll(() => {
  if (savedLabDir === undefined) delete process.env.PGWARDEN_LAB_DIR;
  else process.env.PGWARDEN_LAB_DIR = savedLabDir;
  rmSync(NO_LAB, { recursive: true, force: true });
});
beforeEach(() => {
  logged = [];
  errors = [];
  written = [];
  jest.spyOn(console, 'log').mockImplementation((m: string) => void logged.push(m));
  jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
  jest.spyOn(process.stdout, 'write').mockImplementation((m: string | Uint8Array) => (written.push(String(m)), true));
});
afterEach(() => jest.restoreAllMocks());

const stdout = () => [...logged, ...written].join('\n');

/** Every command line of the table: `lab up`, ..., `switchover`, ..., `doctor`. */
function commandLines(): { line: string; c: Command }[] {
  return SECTIONS.flatMap((s) => s.commands).flatMap((c) =>
    isGroup(c) ? c.commands.map((sub) => ({ line: `${c.name} ${sub.name}`, c: sub })) : [{ line: c.name, c }],
  );
}

describe('the command table', () => {
  test('holds every command: the lab subcommands, the operator verbs and the others', () => {
    expect(commandLines().map((x) => x.line)).toEqual(
      expect.arrayContaining([
        ...['up', 'status', 'down', 'kill', 'stop', 'start', 'freeze', 'thaw', 'partition', 'heal', 'drill'].map(
          (s) => `lab ${s}`,
        ),
        ...['failover', 'switchover', 'rejoin', 'maintenance', 'scale', 'pause', 'resume', 'status', 'history'],
        ...['doctor', 'traces', 'metrics', 'digest', 'demo', 'bench', 'soak'],
      ]),
    );
    for (const { c } of commandLines()) expect(c.summary.length).toBeGreaterThan(0);
  });

  test('the global usage is made from the table: it lists every entry with its usage and summary', async () => {
    expect(await main(['--help'])).toBe(0);
    const usage = logged[0];
    expect(usage).toMatch(/^usage: pgwarden <command> \[options\]/);
    for (const { c } of commandLines()) {
      if (c.hidden) continue;
      expect(usage).toContain(`  ${c.usage}`);
      expect(usage).toContain(c.summary.split('\n')[0]);
    }
  });

  test('no command: the global usage, exit 2', async () => {
    expect(await main([])).toBe(2);
    expect(logged[0]).toMatch(/^usage: pgwarden <command>/);
  });
});

describe('--help of each command', () => {
  test.each(commandLines().map((x) => [x.line]))('pgwarden %s --help: its own usage, exit 0', async (line) => {
    expect(await main([...line.split(' '), '--help'])).toBe(0);
    const out = stdout();
    // executions is history's alias, and history's help says so
    const name = line === 'executions' ? 'history' : line;
    expect(out).toMatch(new RegExp(`^usage: pgwarden ${name}( |$)`, 'm'));
    expect(out).not.toContain('usage: pgwarden <command>');
    expect(errors).toEqual([]);
  });

  test('pgwarden lab up -h: the options of lab up, not the global usage', async () => {
    expect(await main(['lab', 'up', '-h'])).toBe(0);
    expect(logged[0]).toMatch(/^usage: pgwarden lab up \[--port-base N\]/);
    expect(logged[0]).toContain('--standbys N');
    expect(logged[0]).not.toContain('other commands:');
  });

  test('pgwarden lab --help: the lab subcommands', async () => {
    expect(await main(['lab', '--help'])).toBe(0);
    expect(logged[0]).toMatch(/^usage: pgwarden lab <command>/);
    for (const s of ['lab up', 'lab kill <node>', 'lab drill failover']) expect(logged[0]).toContain(`  ${s}`);
    expect(logged[0]).not.toContain('switchover');
  });
});

describe('a wrong command line: exit 2, the message and that command help on stderr', () => {
  test('an unknown lab subcommand', async () => {
    expect(await main(['lab', 'explode'])).toBe(2);
    expect(errors[0]).toMatch(/^pgwarden lab: unknown lab command "explode"\n\nusage: pgwarden lab <command>/);
    expect(logged).toEqual([]);
  });

  test('no lab subcommand', async () => {
    expect(await main(['lab'])).toBe(2);
    expect(errors[0]).toMatch(/missing lab command[\s\S]*usage: pgwarden lab <command>/);
  });

  test('an unknown command: the global usage', async () => {
    expect(await main(['explode'])).toBe(2);
    expect(errors[0]).toMatch(/^pgwarden: unknown command "explode"\n\nusage: pgwarden <command>/);
  });

  test('an unknown flag', async () => {
    expect(await main(['lab', 'up', '--bogus'])).toBe(2);
    expect(errors[0]).toMatch(/^pgwarden lab up: Unknown option '--bogus'\n\nusage: pgwarden lab up /);
    expect(errors[0]).not.toContain('other commands:');
  });

  test('a missing or extra argument', async () => {
    expect(await main(['lab', 'kill'])).toBe(2);
    expect(errors[0]).toMatch(/^pgwarden lab kill: missing argument\n\nusage: pgwarden lab kill <node>/);
    expect(await main(['metrics', 'now'])).toBe(2);
    expect(errors[1]).toMatch(/^pgwarden metrics: unexpected argument "now"\n\nusage: pgwarden metrics/);
  });

  test("a usage error from the command's handler", async () => {
    expect(await main(['bench', 'nope'])).toBe(2);
    expect(errors[0]).toMatch(/^pgwarden bench: bench needs one of: lab, [\s\S]*\n\nusage: pgwarden bench </);
  });

  test('lab drill failover: an unknown fault, and a fault no EC2 event reports with --trigger ec2, start nothing', async () => {
    expect(await main(['lab', 'drill', 'failover', '--fault', 'flood'])).toBe(2);
    expect(errors[0]).toMatch(
      /^pgwarden lab drill: --fault must be one of kill, freeze, partition, got "flood"\n\nusage: pgwarden lab drill failover \[--fault kill\|freeze\|partition\]/,
    );
    expect(await main(['lab', 'drill', 'failover', '--fault', 'partition', '--trigger', 'ec2'])).toBe(2);
    expect(errors[1]).toMatch(
      /^pgwarden lab drill: --fault partition --trigger ec2: a partitioned primary's instance keeps running: no EC2 event reports it/,
    );
    expect(await main(['lab', 'drill', 'failover', '--fault', 'freeze', '--trigger', 'ec2'])).toBe(2);
    expect(errors[2]).toMatch(/--fault freeze --trigger ec2: a frozen primary's instance keeps running/);
    expect(logged).toEqual([]);
  });

  test('an unknown flag of traces (its module used to throw it unlabelled: exit 1)', async () => {
    expect(await main(['traces', '--bogus'])).toBe(2);
    expect(errors[0]).toMatch(/^pgwarden traces: Unknown option '--bogus'\n\nusage: pgwarden traces/);
  });
});

describe('bin/pgwarden', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args], {
      env: { ...process.env, PGWARDEN_LAB_DIR: join(NO_LAB, 'lab') },
      encoding: 'utf8',
      timeout: 60_000,
    });

  test('lab up --help prints lab up help and exits 0; lab explode exits 2 with the lab help', () => {
    const help = run('lab', 'up', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: pgwarden lab up /);
    const bad = run('lab', 'explode');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^pgwarden lab: unknown lab command "explode"\n\nusage: pgwarden lab <command>/);
  }, 60_000);

  test('run as a program, it starts the digest without NODE_EXTRA_CA_CERTS and every other command with it', () => {
    // Node warns at start when the CA file it was told to read is missing: the warning shows whether
    // the process read it. The digest reads local files only; the AWS commands may need the CA.
    const direct = (...args: string[]) =>
      spawnSync(BIN, args, {
        env: { ...process.env, PGWARDEN_LAB_DIR: join(NO_LAB, 'lab'), NODE_EXTRA_CA_CERTS: join(NO_LAB, 'no-ca.pem') },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const digest = direct('digest', '--help');
    expect(digest.status).toBe(0);
    expect(digest.stdout).toMatch(/^usage: pgwarden digest /);
    expect(digest.stderr).not.toContain('extra certs');
    const other = direct('lab', 'up', '--help');
    expect(other.status).toBe(0);
    expect(other.stdout).toMatch(/^usage: pgwarden lab up /);
    expect(other.stderr).toContain('Ignoring extra certs');
    // And through node, as package.json's scripts run it, the file is the same CLI.
    expect(run('digest', '--help').stdout).toMatch(/^usage: pgwarden digest /);
  }, 60_000);

  test("run as a program, it starts the digest with the digest's runtime settings, and nothing else with them", () => {
    // A module preloaded into the node that bin/pgwarden starts reports that node's flags and glibc tunables.
    const probe = join(NO_LAB, 'probe.js');
    writeFileSync(
      probe,
      `process.stderr.write('PROBE ' + JSON.stringify({ argv: process.execArgv, tunables: process.env.GLIBC_TUNABLES ?? null }) + '\\n');\n`,
    );
    const started = (...args: string[]) => {
      const r = spawnSync(BIN, args, {
        env: {
          ...process.env,
          PGWARDEN_LAB_DIR: join(NO_LAB, 'lab'),
          NODE_OPTIONS: `--require ${probe}`,
          GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7',
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(0);
      const line = r.stderr.split('\n').find((l) => l.startsWith('PROBE '));
      return JSON.parse(line!.slice(6)) as { argv: string[]; tunables: string | null };
    };
    const digest = started('digest', '--help');
    expect(digest.argv).toEqual(['--max-semi-space-size=1', '--v8-pool-size=1', '--max-inlined-bytecode-size=100']);
    // the user's own tunables are kept, the digest's come after them
    expect(digest.tunables).toBe(
      'glibc.malloc.tcache_count=7:glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432:glibc.malloc.arena_max=1',
    );
    const other = started('lab', 'up', '--help');
    expect(other.argv).toEqual([]);
    expect(other.tunables).toBe('glibc.malloc.tcache_count=7');
  }, 60_000);
});
