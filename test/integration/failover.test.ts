/**
 * Automatic failover (issue 3), drilled on a real lab: SIGKILL and SIGSTOP of the primary under
 * write load, false alarms, duplicate sensors, pause, an injected step failure, a standby failure,
 * two pgpool instances, and the refusal to promote without proof of zero loss.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALARMS, alarmName } from '../../functions/lib/alarms';
import { executions, failoverDrill, labApi, missingWrites, startWriteLoad } from '../../infra/local/drill';
import type { Lab, LabProfile } from '../../infra/local/lab';
import { waitFor } from '../../infra/local/proc';
import { alarmEvent, ec2Event } from '../../infra/local/controlplane/events';
import { controlPlaneDown, controlPlaneUp } from '../../infra/local/lab/services';
import { freshLab } from './support/lab';

jest.setTimeout(240_000);

type Exec = Awaited<ReturnType<typeof executions>>[number] & {
  output?: { record?: { outcome: string }; assess?: { decision: string } };
};

async function newFailovers(lab: Lab, known: Set<string>): Promise<Exec[]> {
  return ((await executions(lab)) as Exec[]).filter((e) => e.workflow === 'failover' && !known.has(e.name));
}

async function waitExecution(lab: Lab, known: Set<string>, what: (e: Exec) => boolean, label: string): Promise<Exec> {
  return waitFor(
    label,
    async () => (await newFailovers(lab, known)).find((e) => e.status !== 'RUNNING' && what(e)),
    60_000,
    100,
  );
}

const names = async (lab: Lab) => new Set((await executions(lab)).map((e) => e.name));
const sensors = (lab: Lab, s: Partial<Record<'pgpool' | 'alarm' | 'ec2', boolean>>) =>
  labApi(lab, 'POST', '/v1/sensors', s);
const primaryAlarm = ALARMS.find((a) => a.starts === 'failover')!;

/** The lab's profile changed in lab.json and the control plane started again with it. */
async function withProfile(lab: Lab, change: Partial<LabProfile>): Promise<void> {
  const file = join(lab.dir, 'lab.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as { profile: LabProfile };
  writeFileSync(file, JSON.stringify({ ...cfg, profile: { ...cfg.profile, ...change } }, null, 2));
  lab.reloadConfig();
  await controlPlaneDown(lab);
  await controlPlaneUp(lab);
}

describe('failover on a lab with two pgpool instances', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = freshLab(25900, { pgpools: 2 });
    await lab.up();
  }, 180_000);
  afterAll(() => lab.down({ purge: true }), 60_000);

  test('SIGKILL of the primary under write load: one new primary, standby follows on the new timeline, both pgpools route to it, zero acknowledged writes lost', async () => {
    const r = await failoverDrill(lab, { trigger: 'pgpool' });
    expect(r.outcome).toBe('succeeded');
    expect(r.lostWrites).toBe(0);
    expect(r.acknowledged).toBeGreaterThan(100);
    // Client errors by kind: each of the 4 writers had a session on the killed primary, and its next
    // statement failed with it; new connections that failed are counted apart.
    expect(r.endedSessions).toBeGreaterThanOrEqual(4);
    expect(r.errors).toBe(r.endedSessions + r.failedConnects);
    // ...and each one is recorded with what the driver said, by kind.
    const said = (kind: string) =>
      r.clientErrors.filter((e) => e.kind === kind && e.message.length > 0).reduce((n, e) => n + e.count, 0);
    expect([said('ended-session'), said('failed-connect')]).toEqual([r.endedSessions, r.failedConnects]);
    expect(r.checks).toEqual({
      exactlyOnePrimary: true,
      oldPrimaryFenced: true,
      standbysFollowNewPrimary: true,
      everyPgpoolRoutesWritesToNewPrimary: true,
      everyPgpoolDetachedOldPrimary: true,
      everyPgpoolReadsFromStandbys: true,
    });
    // The election and the promotion ran over the sessions their warm-ups opened beside the fencing
    // (functions/lib/session-cache.ts), not over connections of their own.
    const out = ((await executions(lab)) as Exec[]).find((e) => e.name === r.execution)?.output as {
      elect?: { warmSessions?: number };
      promote?: { warmSession?: boolean };
    };
    expect(out.elect?.warmSessions).toBe(2);
    expect(out.promote?.warmSession).toBe(true);
    const s = await lab.status();
    expect(s.pgpools).toHaveLength(2);
    expect(s.timeline).toBe(2);
    expect(s.nodes.find((n) => n.name === r.newPrimary)!.timeline).toBe(2);
    // Writes through the second pgpool land on the new primary too.
    const c = await lab.client('pgpool2', { user: 'app', database: 'app' });
    const w = await c.query(
      'insert into drill_writes (id, writer) values (1, 99) returning inet_server_port() as port',
    );
    await c.end();
    expect(w.rows[0].port).toBe(lab.node(r.newPrimary!).port);
    // The new primary keeps a slot for the fenced old primary: its rejoin can rewind.
    const slots = await lab.query<{ slot_name: string }>(r.newPrimary!, 'select slot_name from pg_replication_slots');
    expect(slots.map((x) => x.slot_name)).toContain(`pgw_${r.oldPrimary}`);
  });

  test('a false alarm (primary healthy) changes nothing and is recorded as such', async () => {
    const before = lab.readTopology();
    const known = await names(lab);
    const res = await labApi<{ result: { action: string } }>(
      lab,
      'POST',
      '/v1/events',
      alarmEvent(alarmName('lab', primaryAlarm), primaryAlarm, 'lab', { Cluster: 'lab' }, 'OK', 'ALARM'),
    );
    expect(res.result.action).toBe('started');
    const e = await waitExecution(lab, known, () => true, 'the false-alarm execution');
    expect(e.status).toBe('SUCCEEDED');
    expect(e.output?.record?.outcome).toBe('false-alarm');
    expect(e.steps.map((s) => s.state)).not.toContain('FenceOldPrimary');
    const after = lab.readTopology();
    expect(after.primary).toBe(before.primary);
    expect(after.timeline).toBe(before.timeline);
    expect(after.history.at(-1)).toMatchObject({ kind: 'failover-no-action', detail: { outcome: 'false-alarm' } });
    expect((await lab.status()).nodes.find((n) => n.name === before.primary)!.role).toBe('primary');
  });

  test('a standby failure promotes nothing', async () => {
    const before = lab.readTopology();
    const standby = before.nodes.find((n) => n.role === 'standby')!.name;
    const known = await names(lab);
    lab.kill(standby);
    const e = await waitExecution(
      lab,
      known,
      (x) => x.input.trigger?.source !== undefined,
      'the standby-failure execution',
    );
    expect(e.output?.record?.outcome).toBe('standby-failure');
    const after = lab.readTopology();
    expect(after.primary).toBe(before.primary);
    expect(after.timeline).toBe(before.timeline);
    expect((await newFailovers(lab, known)).every((x) => x.output?.record?.outcome !== 'failed-over')).toBe(true);
    // Each pgpool reports the standby when it notices it (a session's error, or its own health check):
    // wait until every pgpool's failover_command has reported it and the reports are handled, so that
    // the next test starts with no report of this failure still to come.
    const id = before.nodes.find((n) => n.name === standby)!.backendId;
    const logLines = (pgpool: string, file: string) => {
      const f = join(lab.pgpoolDir(pgpool), 'log', file);
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n') : [];
    };
    const reported = (pgpool: string) => {
      const lines = logLines(pgpool, 'failover-hook.log');
      const at = lines.findLastIndex((l) => l.includes(`"failedNodeId":${id},`));
      return at >= 0 && lines.slice(at + 1).some((l) => l.includes('trigger (exit'));
    };
    await waitFor(
      'every pgpool to have reported the killed standby',
      async () => lab.config().pgpools.every((p) => reported(p.name)),
      30_000,
      100,
    ).catch(async (e: Error) => {
      // Say what each pgpool did and sees, so that a failure in CI can be read from its log alone.
      const seen = await lab.status().catch(() => undefined);
      const about = lab.config().pgpools.map((p) => {
        const hook = logLines(p.name, 'failover-hook.log').slice(-4).join('\n    ') || '(no log)';
        const view = seen?.pgpools.find((x) => x.name === p.name);
        const said = logLines(p.name, 'pgpool.log').slice(-6).join('\n    ');
        return `${p.name} (reported: ${reported(p.name)}): ${JSON.stringify(view)}\n    ${hook}\n    ${said}`;
      });
      throw new Error(`${e.message} (backend ${id}, ${standby})\n${about.join('\n')}`);
    });
    await waitFor(
      'the failure reports to be handled',
      async () => (await newFailovers(lab, known)).every((x) => x.status !== 'RUNNING'),
      30_000,
      100,
    );
  });

  test('malformed or irrelevant events are rejected with a reason and start nothing', async () => {
    const known = await names(lab);
    await expect(labApi(lab, 'POST', '/v1/triggers/pgpool', { source: 'pgpool', failedNodeId: 'x' })).rejects.toThrow(
      /failedNodeId must be a non-negative integer/,
    );
    await expect(labApi(lab, 'POST', '/v1/triggers/pgpool', { source: 'pgpool', failedNodeId: 7 })).rejects.toThrow(
      /backend 7 is not a node of cluster lab/,
    );
    const other = await labApi<{ result: { action: string; reason: string } }>(
      lab,
      'POST',
      '/v1/events',
      ec2Event('i-0123456789abcdef0', 'stopped'),
    );
    expect(other.result).toMatchObject({
      action: 'ignored',
      reason: expect.stringContaining('not a node of cluster lab'),
    });
    const ok = await labApi<{ result: { action: string } }>(
      lab,
      'POST',
      '/v1/events',
      alarmEvent(alarmName('lab', primaryAlarm), primaryAlarm, 'lab', { Cluster: 'lab' }, 'ALARM', 'OK'),
    );
    expect(ok.result.action).toBe('ignored');
    await expect(labApi(lab, 'POST', '/v1/events', { source: 'aws.ec2' })).rejects.toThrow(
      /needs source, detail-type and detail/,
    );
    expect(await newFailovers(lab, known)).toEqual([]);
  });
});

describe('failover drills, each on a fresh lab', () => {
  let lab: Lab;
  afterEach(() => lab?.down({ purge: true }), 60_000);

  test('alarm, EC2 event and pgpool hook for the same failure start one failover', async () => {
    lab = freshLab(26000);
    await lab.up();
    const primary = lab.readTopology().primary;
    const known = await names(lab);
    lab.kill(primary);
    // The three sensors report the same failure at once (pgpool's own hook fires as well).
    const results = await Promise.all([
      labApi<{ result: { action: string; executionName: string } }>(
        lab,
        'POST',
        '/v1/events',
        alarmEvent(alarmName('lab', primaryAlarm), primaryAlarm, 'lab', { Cluster: 'lab' }, 'OK', 'ALARM'),
      ).then((r) => r.result),
      labApi<{ result: { action: string; executionName: string } }>(
        lab,
        'POST',
        '/v1/events',
        ec2Event(`lab:${primary}`, 'stopped'),
      ).then((r) => r.result),
      labApi<{ action: string; executionName: string }>(lab, 'POST', '/v1/triggers/pgpool', {
        source: 'pgpool',
        pgpool: 'test',
        failedNodeId: lab.node(primary).backendId,
      }),
    ]);
    expect(new Set(results.map((r) => r.executionName)).size).toBe(1);
    expect(results.filter((r) => r.action === 'started').length).toBeLessThanOrEqual(1);
    await waitExecution(lab, known, (e) => e.output?.record?.outcome === 'failed-over', 'the failover');
    const all = await newFailovers(lab, known);
    expect(all.filter((e) => e.output?.record?.outcome === 'failed-over')).toHaveLength(1);
    expect(lab.readTopology().timeline).toBe(2);
  });

  test('automation paused: no promotion, a clear recorded reason; after resume the failover is tried again by itself', async () => {
    lab = freshLab(26000);
    await lab.up();
    await labApi(lab, 'POST', '/v1/pause', { reason: 'patch night' });
    expect((await lab.status()).automation).toBe('paused (patch night)');
    const primary = lab.readTopology().primary;
    const known = await names(lab);
    lab.kill(primary);
    const e = await waitExecution(lab, known, () => true, 'the paused execution');
    expect(e.output?.record?.outcome).toBe('paused');
    expect(lab.readTopology()).toMatchObject({ primary, timeline: 1 });
    expect(lab.readTopology().history.at(-1)!.detail.summary).toContain('automation is paused: patch night');
    expect((await lab.status()).nodes.filter((n) => n.role === 'primary')).toHaveLength(0);
    // Every sensor (EC2 event, alarm, pgpool's hook) reported once, while paused. After resume nobody
    // triggers anything: the prober sees the primary still unwritable with no workflow acting and
    // starts the failover (functions/probe/rearm.ts).
    const sensorsSeen = await waitFor(
      'every sensor to report while paused',
      async () => {
        const paused = (await newFailovers(lab, known)).filter((x) => x.output?.record?.outcome === 'paused');
        const sources = new Set(
          paused.map((x) => (x as { output?: { trigger?: { source?: string } } }).output?.trigger?.source),
        );
        return ['ec2', 'alarm', 'pgpool'].every((x) => sources.has(x)) ? paused : undefined;
      },
      30_000,
      100,
    );
    for (const x of sensorsSeen) known.add(x.name);
    await labApi(lab, 'POST', '/v1/resume', {});
    const again = await waitExecution(
      lab,
      known,
      (x) => (x as { output?: { trigger?: { source?: string } } }).output?.trigger?.source === 'prober',
      'the failover the prober starts after resume',
    );
    expect(again.output?.record?.outcome).toBe('failed-over');
    expect(lab.readTopology().timeline).toBe(2);
  });

  test("the alarm alone: the lab evaluates the alarm on the prober's first breaching datapoint, not at the end of its period", async () => {
    lab = freshLab(26000);
    await lab.up();
    // A two-minute alarm period (profile lab's alarmEvaluation 'datapoint' kept): evaluated only at
    // the period's end, the killed primary's alarm would fire one to two minutes after the kill, and
    // the drill, which waits a minute for the failover, would fail.
    expect(lab.config().profile.alarmEvaluation).toBe('datapoint');
    await withProfile(lab, { alarmPeriodS: 120 });
    const known = await names(lab);
    const r = await failoverDrill(lab, { trigger: 'alarm' });
    expect(r.outcome).toBe('succeeded');
    expect(r.lostWrites).toBe(0);
    const started = (await newFailovers(lab, known)).map((x) => x.input.trigger?.source);
    expect(started).toEqual(['alarm']);
  });

  test('the prober holds a session to the primary: a killed primary ends it, and the prober probes at once, not at its next interval', async () => {
    lab = freshLab(26000);
    await lab.up();
    // A round a minute: the drill, which waits a minute for the failover, would fail on the rounds.
    await withProfile(lab, { probeIntervalMs: 60_000 });
    const primary = lab.readTopology().primary;
    const r = await failoverDrill(lab, { trigger: 'alarm' });
    expect(r.outcome).toBe('succeeded');
    expect(r.lostWrites).toBe(0);
    expect(readFileSync(join(lab.controlDir, 'controlplane.log'), 'utf8')).toContain(
      `prober: the session held to ${primary} ended; probing now`,
    );
  });

  test("the prober's rounds go on while a heal check waits for a pgpool that does not answer", async () => {
    lab = freshLab(26000);
    await lab.up();
    // A heal check waits twice the probe timeout for each pgpool's PCP: a minute here. pgpool1 cut
    // off from the control plane, the check waits that long; the rounds beside it, to the nodes,
    // publish PrimaryWritable every 0.5 s. Had they waited for it, none would come for a minute.
    await withProfile(lab, { probeTimeoutMs: 30_000 });
    const rounds = async () =>
      (
        await labApi<{ series: { samples: unknown[] }[] }>(lab, 'GET', '/v1/metrics?name=PrimaryWritable')
      ).series.reduce((n, x) => n + x.samples.length, 0);
    lab.partitions.partition('pgpool1', 'control');
    try {
      const cutAt = await rounds();
      // More rounds than fit in the heal interval (2 s) before the first check starts.
      await waitFor('20 probe rounds with pgpool1 cut off', async () => (await rounds()) >= cutAt + 20, 40_000, 250);
    } finally {
      lab.partitions.heal('pgpool1');
    }
    expect(readFileSync(join(lab.controlDir, 'controlplane.log'), 'utf8')).not.toMatch(/probe failed/);
  });

  test('a step failing once mid-workflow is retried and reaches the same end state', async () => {
    lab = freshLab(26000);
    await lab.up();
    await labApi(lab, 'POST', '/v1/faults', { state: 'PromoteCandidate', times: 1 });
    const r = await failoverDrill(lab, { trigger: 'pgpool' });
    expect(r.outcome).toBe('succeeded');
    expect(r.steps.find((s) => s.state === 'PromoteCandidate')!.attempts).toBe(2);
    expect(r.lostWrites).toBe(0);
    expect(Object.values(r.checks).every(Boolean)).toBe(true);
  });

  test('the drill with --fault partition: a primary cut off from everything is failed over, nothing acknowledged is lost, every check holds, the cut is healed', async () => {
    lab = freshLab(26000);
    await lab.up();
    const r = await failoverDrill(lab, { trigger: 'pgpool', fault: 'partition' });
    expect({ fault: r.fault, outcome: r.outcome, lost: r.lostWrites }).toEqual({
      fault: 'partition',
      outcome: 'succeeded',
      lost: 0,
    });
    expect(r.newPrimary).not.toBe(r.oldPrimary);
    expect(Object.entries(r.checks).filter(([, ok]) => !ok)).toEqual([]);
    expect(r.rtoMs).not.toBeNull();
    expect(lab.partitions.list()).toEqual([]);
    // Healed, the old primary is still fenced: never writable again without a rejoin.
    const old = (await lab.status()).nodes.find((n) => n.name === r.oldPrimary)!;
    expect({ fenced: old.fenced, role: old.role }).toEqual({ fenced: true, role: 'down' });
  });

  test('a frozen primary that resumes after the failover never accepts another write and is fenced', async () => {
    lab = freshLab(26000);
    await lab.up();
    const primary = lab.readTopology().primary;
    const known = await names(lab);
    const load = await startWriteLoad(lab);
    let e: Exec;
    try {
      await waitFor('acknowledged writes', () => load.acked.length > 50, 10_000);
      const frozen = lab.freeze(primary);
      expect(frozen.length).toBeGreaterThan(0);
      // A frozen host answers nothing: failover once its standbys' connections time out.
      e = await waitExecution(
        lab,
        known,
        (x) => x.output?.record?.outcome === 'failed-over',
        'the failover of the frozen primary',
      );
      lab.thaw(primary);
      const resumedAt = Date.now();
      await waitFor('writes after the thaw', () => load.acked.some((a) => a.at > resumedAt + 300), 20_000);
    } finally {
      lab.thaw(primary);
      await load.stop();
    }
    expect(e.output?.record?.outcome).toBe('failed-over');
    expect(lab.nodeProcesses(primary)).toEqual([]);
    const s = await lab.status();
    const old = s.nodes.find((n) => n.name === primary)!;
    expect(old.fenced).toBe(true);
    expect(old.role).toBe('down');
    expect(s.nodes.filter((n) => n.role === 'primary')).toHaveLength(1);
    expect(await missingWrites(lab, load.acked)).toBe(0);
    await expect(lab.query(primary, 'select 1', [], 1000)).rejects.toThrow();
  });

  test('no candidate provably holds every acknowledged commit: the workflow refuses to promote and raises an alarm', async () => {
    lab = freshLab(26000);
    await lab.up();
    const t = lab.readTopology();
    const [lagging, other] = t.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
    // The lagging standby stops receiving WAL; commits go on, acknowledged by the other standby alone.
    await lab.query(lagging, "alter system set primary_conninfo = ''");
    await lab.query(lagging, 'select pg_reload_conf()');
    await waitFor(
      'the lagging standby to stop streaming',
      async () => {
        const s = await lab.status();
        return !s.nodes.find((n) => n.name === lagging)!.streaming;
      },
      10_000,
    );
    const load = await startWriteLoad(lab, { writers: 2 });
    const known = await names(lab);
    try {
      await waitFor('commits acknowledged by the other standby alone', () => load.acked.length > 100, 10_000);
      await sensors(lab, { pgpool: false, alarm: false, ec2: false });
      // The primary and the up-to-date standby die together.
      lab.kill(t.primary);
      lab.kill(other);
    } finally {
      await load.stop();
    }
    await sensors(lab, { pgpool: true, alarm: true, ec2: true });
    await labApi(lab, 'POST', '/v1/failover', { reason: 'test: double failure', wait: true });
    // With the sensors back on, pgpool may report this failure (or the dead standby) too: whichever
    // execution acts first, one refuses with NoSafeCandidate and none promotes.
    const e = await waitExecution(lab, known, (x) => x.error?.Error === 'NoSafeCandidate', 'the refused failover');
    expect(e.status).toBe('FAILED');
    expect(e.steps.map((s) => s.state)).toContain('RaiseNoSafeCandidate');
    for (const x of await newFailovers(lab, known))
      expect({ x: x.name, steps: x.steps.map((s) => s.state) }).not.toEqual(
        expect.objectContaining({ steps: expect.arrayContaining(['PromoteCandidate']) }),
      );
    const s = await lab.status();
    expect(s.nodes.find((n) => n.name === lagging)!.role).toBe('standby');
    expect(lab.readTopology().primary).toBe(t.primary);
    const notes = await labApi<{ notifications: { subject: string; message: { cause: string } }[] }>(
      lab,
      'GET',
      '/v1/notifications',
    );
    const refused = notes.notifications.find((n) => n.subject.includes('FAILOVER REFUSED'));
    expect(refused?.message.cause).toMatch(/cannot prove that any standby holds every acknowledged commit/);
    const metrics = await labApi<{ series: { name: string; samples: { v: number }[] }[] }>(
      lab,
      'GET',
      '/v1/metrics?name=FailoverRefused',
    );
    expect(metrics.series[0].samples.at(-1)!.v).toBe(1);
  });
});
