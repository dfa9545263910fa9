/**
 * The CLI's command table: each command (or group of subcommands, like `lab`) is an entry with its
 * usage, summary, options and handler. The global usage, each command's `--help` and the usage
 * errors are made from the entries, and `run` dispatches argv to them. Handlers load what they need
 * with require() when they run, so that the table itself costs nothing at start-up.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../usage-error';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's name in the help (a string option's N, S, NODE...). */
  arg?: string;
  help: string;
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

interface Base {
  name: string;
  /** The command line after "pgwarden ", e.g. `lab up [--port-base N]`. */
  usage: string;
  /** One line (or a few, joined by \n) for the global usage and the top of the command's help. */
  summary: string;
  /** Not listed in the global usage (an alias). */
  hidden?: boolean;
}

/** A command whose arguments the table parses: options, positionals, --help. */
export interface Leaf extends Base {
  options?: Record<string, OptionSpec>;
  /** How many positional arguments: [min, max]; none by default. */
  args?: [number, number];
  /** Help text after the options. */
  notes?: string;
  run(p: Parsed, argv: string[]): Promise<number>;
}

/**
 * A command that reads its own arguments (its module parses them): argv untouched. With ownHelp it
 * also answers --help itself (digest, the operator commands); otherwise a first argument --help or -h
 * prints the help made from its entry.
 */
export interface Passthrough extends Base {
  passthrough: true;
  ownHelp?: boolean;
  notes?: string;
  run(argv: string[]): Promise<number>;
}

/** A command of subcommands (`lab up`, `lab status`...). */
export interface Group extends Base {
  /** Section heading lines in the global usage. */
  heading: string;
  commands: Command[];
}

export type Command = Leaf | Passthrough | Group;

/** A part of the global usage: its heading and entries (a group lists its subcommands). */
export interface Section {
  heading: string;
  commands: Command[];
  /** The section's lines, when another table renders them (the operator commands). */
  render?: () => string;
}

export const isGroup = (c: Command): c is Group => 'commands' in c;
const isPassthrough = (c: Command): c is Passthrough => 'passthrough' in c;

const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const;
/** As the operator table renders its commands (operator/commands.ts operatorUsage). */
const USAGE_COL = 48;

/** One row of a command list: the usage, then the summary after it (below it if the usage is longer). */
export function row(usage: string, summary: string): string {
  const pad = ' '.repeat(USAGE_COL + 3);
  const [first, ...more] = summary.split('\n');
  const head = usage.length <= USAGE_COL ? [`  ${usage.padEnd(USAGE_COL)} ${first}`] : [`  ${usage}`, `${pad}${first}`];
  return [...head, ...more.map((l) => `${pad}${l}`)].join('\n');
}

/** The global usage: every section of the table. */
export function globalUsage(sections: Section[], head: string, foot: string): string {
  const parts = [head, ''];
  for (const s of sections) {
    parts.push(s.heading);
    if (s.render) parts.push(s.render());
    else
      for (const c of s.commands)
        if (!c.hidden) parts.push(...(isGroup(c) ? c.commands.filter((x) => !x.hidden) : [c]).map(rowOf));
  }
  parts.push('', foot, '');
  return parts.join('\n');
}

const rowOf = (c: Command) => row(c.usage, c.summary);

function optionLines(options: Record<string, OptionSpec>): string[] {
  const lines = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    return `  ${flag.padEnd(21)} ${o.help}`;
  });
  return [...lines, `  ${'-h, --help'.padEnd(21)} this help`];
}

/** A command's own help: its usage, summary, options (a group: its subcommands). */
export function helpOf(c: Command): string {
  const lines = [`usage: pgwarden ${c.usage}`, '', c.summary.replace(/\n/g, ' ')];
  if (isGroup(c)) lines.push('', c.heading, ...c.commands.filter((x) => !x.hidden).map(rowOf));
  else if (!isPassthrough(c)) lines.push('', 'options:', ...optionLines(c.options ?? {}));
  if (!isGroup(c) && c.notes) lines.push('', c.notes);
  return `${lines.join('\n')}\n`;
}

/** parseArgs over the entry's options, strictly: an unknown flag or a missing value is a UsageError. */
export function parse(c: Leaf, argv: string[]): Parsed {
  const options = Object.fromEntries(
    Object.entries(c.options ?? {}).map(([k, o]) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
  );
  let r: Parsed;
  try {
    r = parseArgs({ args: argv, options: { ...options, ...HELP_FLAG }, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  if (r.values.help) return r;
  const [min, max] = c.args ?? [0, 0];
  if (r.positionals.length < min) throw new UsageError(`missing argument`);
  if (r.positionals.length > max) throw new UsageError(`unexpected argument "${r.positionals[max]}"`);
  return r;
}

/** What `run` reports when a command line is wrong: the message and the help of the command concerned. */
export class CommandUsageError extends UsageError {
  constructor(
    msg: string,
    readonly command: string,
    readonly help: string,
  ) {
    super(msg);
  }
}

const wantsHelp = (a: string | undefined) => a === '--help' || a === '-h';

/**
 * Run a command with the arguments after its name. Its --help goes to stdout (exit 0); a usage error
 * (unknown subcommand, bad flag, or a UsageError from its handler) is thrown as a CommandUsageError
 * carrying that command's help.
 */
export async function run(c: Command, argv: string[], path = c.name): Promise<number> {
  const fail = (e: unknown): never => {
    if (e instanceof UsageError && !(e instanceof CommandUsageError))
      throw new CommandUsageError(e.message, path, helpOf(c));
    throw e;
  };
  if (isGroup(c)) {
    const [sub, ...rest] = argv;
    if (wantsHelp(sub)) return printHelp(c);
    if (sub === undefined) return fail(new UsageError(`missing ${c.name} command`));
    const s = c.commands.find((x) => x.name === sub);
    if (!s) return fail(new UsageError(`unknown ${c.name} command "${sub}"`));
    return run(s, rest, `${path} ${sub}`);
  }
  if (isPassthrough(c)) {
    if (!c.ownHelp && wantsHelp(argv[0])) return printHelp(c);
    return c.run(argv).catch(fail);
  }
  let p: Parsed;
  try {
    p = parse(c, argv);
  } catch (e) {
    return fail(e);
  }
  if (p.values.help) return printHelp(c);
  return c.run(p, argv).catch(fail);
}

function printHelp(c: Command): number {
  console.log(helpOf(c).trimEnd());
  return 0;
}
