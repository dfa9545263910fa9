/**
 * `npm run demo`: the main job, end to end on this machine. Lab up, the app's transaction through
 * its API (pgpool, Redis, X-Ray), a failover drill under write load with its timings, the zero-loss check, the old primary
 * rejoined as a standby, and a summary.
 */
import { parseArgs } from 'node:util';
import { failoverDrill, labApi, renderDrill, type TriggerPath } from './drill';
import { appUrl } from './app-process';
import type { TraceView } from './controlplane/xray-collector';
import { Lab, renderStatus } from './lab';
import { waitFor } from './proc';
import { renderTrace } from './traces-cli';

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { trigger: { type: 'string' } }, strict: true });
  const trigger = (values.trigger ?? 'pgpool') as TriggerPath;
  const say = (m: string) => console.log(`\n== ${m}`);
  const lab = new Lab({ log: (m) => console.log(`   ${m}`) });

  say('1/5 lab up: PostgreSQL 15 primary + 2 quorum standbys, pgpool-II, Redis, control plane');
  const t0 = Date.now();
  await lab.up();
  console.log(`   ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(renderStatus(await lab.status()));

  say('2/5 the app: write a value in a transaction through its API (pgpool, Redis, X-Ray), read it back');
  const tx = await appTransaction(lab);
  console.log(`   POST /api/values -> 201, id ${tx.id} committed at ${tx.committedAt}`);
  console.log(`   GET /api/values/${tx.id} -> "${tx.value}" (cached: ${tx.cached})`);
  console.log(`   dashboard: ${appUrl(lab)}/dashboard`);
  if (tx.trace) console.log(renderTrace(tx.trace).replace(/^/gm, '   '));

  say(`3/5 failover drill: write load through pgpool, SIGKILL of the primary (trigger: ${trigger})`);
  const drill = await failoverDrill(lab, { trigger, log: (m) => console.log(`   ${m}`) });
  console.log(renderDrill(drill));

  say('4/5 zero-loss check');
  console.log(
    `   ${drill.acknowledged} writes acknowledged to clients, ${drill.lostWrites} missing after the failover`,
  );

  say(`5/5 rejoin: ${drill.oldPrimary} back as a standby of ${drill.newPrimary} (pg_rewind, basebackup fallback)`);
  let rejoinNote: string;
  try {
    const r = await labApi<{
      executionName?: string;
      execution?: { status: string; durationMs: number; output?: { rejoin?: { method?: string } } };
    }>(lab, 'POST', '/v1/rejoin', { node: drill.oldPrimary, reason: 'demo failback', wait: true });
    const ex = r.execution;
    rejoinNote = ex ? `${ex.status} in ${ex.durationMs} ms` : JSON.stringify(r);
    await waitFor(
      'three streaming nodes',
      async () => {
        const s = await lab.status();
        return (
          s.nodes.filter((n) => n.role === 'standby' && n.streaming).length === 2 &&
          s.nodes.some((n) => n.role === 'primary')
        );
      },
      60_000,
      200,
    );
  } catch (e) {
    rejoinNote = `failed: ${(e as Error).message}`;
  }
  console.log(`   rejoin ${rejoinNote}`);
  const final = await lab.status();
  console.log(renderStatus(final));

  say('summary');
  const prof = lab.config().profile;
  const ok =
    drill.outcome === 'succeeded' &&
    drill.lostWrites === 0 &&
    Object.values(drill.checks).every(Boolean) &&
    rejoinNote.startsWith('SUCCEEDED');
  const rows = [
    ['app transaction', `id ${tx.id}, trace ${tx.traceId ?? '(none)'} (pgwarden traces --id ${tx.traceId})`],
    ['dashboard', `${appUrl(lab)}/dashboard`],
    ['failover', `${drill.oldPrimary} -> ${drill.newPrimary}, timeline ${drill.timeline}`],
    [
      'RTO (longest write gap)',
      `${drill.rtoMs} ms (lab profile "${drill.profile}": ${prof.healthCheckPeriodS} s health check, ${prof.probeIntervalMs / 1000} s probe)`,
    ],
    [
      'workflow',
      `${drill.workflowMs} ms, ${drill.steps.filter((s) => s.durationMs !== undefined && !s.state.startsWith('Is')).length} states`,
    ],
    ['acknowledged writes lost', String(drill.lostWrites)],
    ['safety checks', Object.values(drill.checks).every(Boolean) ? 'all passed' : JSON.stringify(drill.checks)],
    ['rejoin', rejoinNote],
    ['cluster now', final.nodes.map((n) => `${n.name}:${n.role}${n.streaming ? '(streaming)' : ''}`).join(' ')],
  ];
  for (const [k, v] of rows) console.log(`   ${k.padEnd(26)} ${v}`);
  console.log(`\n   The lab keeps running: pgwarden lab status | pgwarden lab down`);
  return ok ? 0 : 1;
}

/** The demo's transaction through the app: a write, then a read of it; the write's trace from the collector. */
async function appTransaction(lab: Lab) {
  const url = appUrl(lab);
  const w = await fetch(`${url}/api/values`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: `demo ${new Date().toISOString()}` }),
  });
  const written = (await w.json()) as { id: number; value: string; committedAt: string; error?: string };
  if (w.status !== 201) throw new Error(`the app refused the demo's write: ${w.status} ${written.error}`);
  const traceId = /Root=([^;]+)/.exec(w.headers.get('x-amzn-trace-id') ?? '')?.[1];
  const r = await fetch(`${url}/api/values/${written.id}`);
  const read = (await r.json()) as { value: string; cached: boolean };
  const trace = traceId
    ? await waitFor(
        'the trace of the transaction in the collector',
        () => labApi<TraceView>(lab, 'GET', `/v1/traces/${traceId}`).catch(() => undefined),
        5000,
      ).catch(() => undefined)
    : undefined;
  return { ...written, value: read.value, cached: read.cached, traceId, trace };
}
