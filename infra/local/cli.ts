/**
 * pgwarden CLI. `pgwarden lab ...` manages the local lab; the operator commands (status, failover,
 * switchover, rejoin, maintenance, scale, pause, resume, history) act on the lab through its control
 * plane or on an AWS deployment (./operator/). The commands are entries of a table (./commands/):
 * the global usage, each command's --help and the usage errors are made from it.
 *
 * An AWS-only command group would be one more section here with a group entry like `lab`; the
 * operator commands already choose their target themselves (--aws).
 */
import { LAB } from './commands/lab';
import { OPERATOR } from './commands/operator';
import { CommandUsageError, globalUsage, run, type Command, type Section } from './commands/table';
import { TOOLS } from './commands/tools';
import { LabError } from './lab';
import { UsageError as OperatorUsageError } from './operator/commands';
import { PartitionError } from './partition';
import { UsageError } from './usage-error';

export { UsageError };

/** The command table, by section of the global usage. */
export const SECTIONS: Section[] = [
  { heading: LAB.heading, commands: [LAB] },
  OPERATOR,
  { heading: 'other commands:', commands: TOOLS },
];

const COMMANDS: Command[] = SECTIONS.flatMap((s) => s.commands);

export const USAGE = globalUsage(
  SECTIONS,
  'usage: pgwarden <command> [options]',
  "pgwarden <command> --help, pgwarden lab <command> --help: that command's own help",
);

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const c = COMMANDS.find((x) => x.name === cmd);
  try {
    if (!c) throw new UsageError(`unknown command "${cmd}"`);
    return await run(c, rest);
  } catch (e) {
    if (e instanceof CommandUsageError) {
      console.error(`pgwarden ${e.command}: ${e.message}\n\n${e.help}`);
      return 2;
    }
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
