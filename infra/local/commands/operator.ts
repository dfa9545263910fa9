/**
 * The operator commands (status, failover, switchover, rejoin, maintenance, scale, pause, resume,
 * history): their table, usage, per-command help and target (the lab, or AWS with --aws) are
 * ./operator/commands.ts's; here they are entries of the CLI's table that hand argv to it.
 */
import { OPERATOR_COMMANDS, operatorUsage } from '../operator/commands';
import type { Passthrough, Section } from './table';

/** usage and summary of each command, from the operator table's own command list. */
function rows(): Map<string, { usage: string; summary: string }> {
  const out = new Map<string, { usage: string; summary: string }>();
  for (const line of operatorUsage().split('\n')) {
    const m = /^ {2}(\S.*?) {2,}(\S.*)$/.exec(line) ?? /^ {2}(.{48}) (.*)$/.exec(line);
    if (m) out.set(m[1].split(' ')[0], { usage: m[1].trim(), summary: m[2] });
  }
  return out;
}

const ALIASES: Record<string, string> = { executions: 'history' };

function entries(): Passthrough[] {
  const r = rows();
  return OPERATOR_COMMANDS.map((name) => {
    const own = r.get(ALIASES[name] ?? name) ?? { usage: name, summary: '' };
    return {
      name,
      usage: ALIASES[name] ? own.usage.replace(ALIASES[name], name) : own.usage,
      summary: ALIASES[name] ? `${own.summary} (as ${ALIASES[name]})` : own.summary,
      hidden: name in ALIASES,
      passthrough: true as const,
      ownHelp: true,
      run: (argv: string[]) => (require('../operator') as typeof import('../operator')).main(name, argv),
    };
  });
}

export const OPERATOR: Section = {
  heading: `operator commands (the lab's control plane, or AWS with --aws [--region R] [--cluster C] [--stage S];
every one takes --json and --help; workflow commands take --yes, --dry-run, --no-wait):`,
  commands: entries(),
  // The operator table's own list, as it renders it.
  render: operatorUsage,
};
