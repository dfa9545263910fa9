/**
 * `npm run demo`: the main job, end to end on this machine. Lab up, the app's transaction through
 * pgpool, a failover drill under write load with its timings, the zero-loss check, the old primary
 * rejoined as a standby, and a summary.
 */
import { parseArgs } from 'node:util';
import { renderStatus } from './cli';
import { failoverDrill, labApi, renderDrill, type TriggerPath } from './drill';
import { Lab } from './lab';
import { waitFor } from './proc';

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

  say('2/5 the app: write a value in a transaction through pgpool, read it back');
  const c = await lab.client('pgpool', { user: 'app', database: 'app' });
  await c.query(
    'create table if not exists app_values (id bigserial primary key, value text not null, created_at timestamptz not null default now())',
  );
  await c.query('begin');
  const ins = await c.query('insert into app_values (value) values ($1) returning id', [
    `demo ${new Date().toISOString()}`,
  ]);
  await c.query('commit');
  const back = await c.query('select value from app_values where id = $1', [ins.rows[0].id]);
  await c.end();
  console.log(`   wrote id ${ins.rows[0].id}, read back "${back.rows[0].value}"`);

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
  const ok =
    drill.outcome === 'succeeded' &&
    drill.lostWrites === 0 &&
    Object.values(drill.checks).every(Boolean) &&
    rejoinNote.startsWith('SUCCEEDED');
  const rows = [
    ['failover', `${drill.oldPrimary} -> ${drill.newPrimary}, timeline ${drill.timeline}`],
    ['RTO (longest write gap)', `${drill.rtoMs} ms (lab profile "${drill.profile}": 1 s health check, 0.5 s probe)`],
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
