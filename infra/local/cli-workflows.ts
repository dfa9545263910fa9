/**
 * CLI of the switchover, rejoin, maintenance and scaling workflows: each command asks the lab's
 * control plane (as StartExecution would in AWS), waits for the execution and prints its steps.
 * Refusals and failures exit 1 with the reason; usage errors exit 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './cli';
import { Lab } from './lab';

interface Summary {
  name: string;
  workflow: string;
  status: string;
  durationMs: number;
  error?: { Error: string; Cause: string };
  output?: { record?: { summary?: string } };
  steps: { state: string; durationMs?: number; attempts: number; error?: string }[];
}

function parse(argv: string[], options: ParseArgsConfig['options']) {
  try {
    const r = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: r.values as Record<string, string | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
}

async function call(
  path: string,
  body: Record<string, unknown>,
): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const lab = new Lab();
  let r: Response;
  try {
    r = await fetch(`${lab.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(
      `the lab's control plane at ${lab.apiUrl} does not answer (${(e as Error).message}): run "pgwarden lab up"`,
      { cause: e },
    );
  }
  return { ok: r.ok, body: (await r.json()) as Record<string, unknown> };
}

async function waitDone(name: string): Promise<Summary> {
  const lab = new Lab();
  for (;;) {
    const r = await fetch(`${lab.apiUrl}/v1/executions/${encodeURIComponent(name)}?waitMs=60000`);
    const s = (await r.json()) as Summary;
    if (s.status !== 'RUNNING') return s;
  }
}

function render(s: Summary): string {
  const lines = [`${s.workflow} ${s.name}: ${s.status} in ${s.durationMs} ms`];
  for (const st of s.steps.filter((x) => x.durationMs !== undefined)) {
    lines.push(
      `  ${st.state.padEnd(24)} ${String(st.durationMs).padStart(7)} ms${st.attempts > 1 ? ` (${st.attempts} attempts)` : ''}${st.error ? `  ${st.error.slice(0, 160)}` : ''}`,
    );
  }
  if (s.output?.record?.summary) lines.push(`  ${s.output.record.summary}`);
  if (s.error) lines.push(`  ${s.error.Error}: ${s.error.Cause}`);
  return lines.join('\n');
}

async function start(path: string, body: Record<string, unknown>): Promise<number> {
  const r = await call(path, { ...body, wait: true });
  if (!r.ok) {
    console.error(`pgwarden: ${String(r.body.error ?? 'request failed')}`);
    return 1;
  }
  const name = String(r.body.executionName);
  let s = r.body.execution as Summary | undefined;
  if (!s || s.status === 'RUNNING') s = await waitDone(name);
  console.log(render(s));
  return s.status === 'SUCCEEDED' ? 0 : 1;
}

export async function main(cmd: string, argv: string[]): Promise<number> {
  switch (cmd) {
    case 'switchover': {
      const { values, positionals } = parse(argv, {
        to: { type: 'string' },
        reason: { type: 'string' },
        'max-lag-bytes': { type: 'string' },
      });
      if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (use --to NODE)`);
      const maxLag = values['max-lag-bytes'];
      if (maxLag !== undefined && !/^\d+$/.test(String(maxLag)))
        throw new UsageError(`--max-lag-bytes must be a non-negative integer, got "${String(maxLag)}"`);
      return start('/v1/switchover', {
        to: values.to,
        reason: values.reason,
        maxLagBytes: maxLag === undefined ? undefined : Number(maxLag),
      });
    }
    case 'rejoin': {
      const { values, positionals } = parse(argv, { method: { type: 'string' }, reason: { type: 'string' } });
      if (positionals.length !== 1) throw new UsageError('rejoin needs exactly one node: pgwarden rejoin <node>');
      if (values.method !== undefined && !['auto', 'rewind', 'basebackup'].includes(String(values.method)))
        throw new UsageError('--method must be auto, rewind or basebackup');
      return start('/v1/rejoin', { node: positionals[0], method: values.method, reason: values.reason });
    }
    case 'maintenance': {
      const { values, positionals } = parse(argv, { command: { type: 'string' }, reason: { type: 'string' } });
      if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (use --command CMD)`);
      return start('/v1/maintenance', { command: values.command, reason: values.reason });
    }
    case 'scale': {
      const { values, positionals } = parse(argv, {
        reason: { type: 'string' },
        'drain-seconds': { type: 'string' },
      });
      const [dir, node, extra] = positionals;
      const drain = values['drain-seconds'];
      if (drain !== undefined && (dir !== 'in' || !/^\d+$/.test(String(drain)) || Number(drain) > 600))
        throw new UsageError('--drain-seconds goes with scale in: a whole number of seconds, at most 600');
      if (dir === 'out' && positionals.length === 1)
        return start('/v1/scale', { direction: 'out', reason: values.reason });
      if (dir === 'in' && !extra)
        return start('/v1/scale', {
          direction: 'in',
          node,
          reason: values.reason,
          ...(drain !== undefined ? { drainSeconds: Number(drain) } : {}),
        });
      throw new UsageError('usage: pgwarden scale out | pgwarden scale in [NODE] [--drain-seconds N]');
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}
