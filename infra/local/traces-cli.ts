/** `pgwarden traces [--json] [--limit N] [--id TRACE]`: recent X-Ray traces from the lab's collector, as timelines. */
import { parseArgs } from 'node:util';
import { Lab, LabError } from './lab';
import type { TraceView } from './controlplane/xray-collector';

const BAR = 40;

/** One trace as text: a line per (sub)segment, indented by depth, with a bar placed on the trace's time axis. */
export function renderTrace(t: TraceView): string {
  const total = Math.max(t.durationMs ?? 0, ...t.spans.map((s) => s.offsetMs + (s.durationMs ?? 0)), 0.001);
  const head = `${t.id}  ${t.method ?? ''} ${t.url ? new URL(t.url).pathname : t.name}  ${t.status ?? '-'}  ${fmt(t.durationMs)}  ${t.startedAt}`;
  const lines = t.spans.map((s) => {
    const from = Math.floor((s.offsetMs / total) * BAR);
    const len = Math.max(1, Math.round(((s.durationMs ?? total - s.offsetMs) / total) * BAR));
    const bar = ' '.repeat(from) + (s.fault || s.error ? '!' : '#').repeat(Math.min(len, BAR - from || 1));
    const label = `${'  '.repeat(s.depth)}${s.name}`.padEnd(26).slice(0, 26);
    const extra = s.sql ? `  ${s.sql.slice(0, 70)}` : s.error ? `  error: ${s.error}` : '';
    return `  ${label} ${fmt(s.offsetMs).padStart(9)} +${fmt(s.durationMs).padEnd(9)} |${bar.padEnd(BAR)}|${extra}`;
  });
  return [head, ...lines].join('\n');
}

const fmt = (ms: number | null | undefined) => (ms === null || ms === undefined ? 'open' : `${ms.toFixed(1)} ms`);

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, limit: { type: 'string' }, id: { type: 'string' } },
    strict: true,
  });
  const lab = new Lab();
  const path = values.id ? `/v1/traces/${encodeURIComponent(values.id)}` : `/v1/traces?limit=${values.limit ?? 10}`;
  let r: Response;
  try {
    r = await fetch(`${lab.apiUrl}${path}`);
  } catch {
    throw new LabError(`the lab's control plane is not reachable at ${lab.apiUrl} (run: pgwarden lab up)`);
  }
  const body = (await r.json()) as { traces?: TraceView[]; error?: string } & Partial<TraceView>;
  if (!r.ok) throw new LabError(body.error ?? r.statusText);
  const traces = values.id ? [body as TraceView] : (body.traces ?? []);
  if (values.json) {
    console.log(JSON.stringify(values.id ? body : traces, null, 2));
    return 0;
  }
  if (!traces.length) console.log('no traces yet (the app sends one per request)');
  for (const t of traces) console.log(`${renderTrace(t)}\n`);
  return 0;
}
