/**
 * The operator CLI end to end on a real lab: `pgwarden switchover --yes --json` names its execution
 * first, streams each step as it finishes and exits 0; a refused switchover (automation paused) and a
 * failover of a healthy primary exit 1 and change nothing; a dry run changes nothing; no --yes
 * without a terminal is refused before anything is asked of the lab; history outlives a restart of the
 * control plane.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freshLab } from './support/lab';

const lab = freshLab(25000);
const BIN = join(__dirname, '..', '..', 'bin', 'pgwarden');

interface Run {
  code: number | null;
  lines: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

/** Run bin/pgwarden against this lab; stdout is collected line by line as it arrives. */
function pgwarden(args: string[], onLine?: (l: Record<string, unknown>) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, PGWARDEN_LAB_DIR: lab.dir, PGWARDEN_TARGET: 'lab' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const l of parts) if (l.startsWith('{')) onLine?.(JSON.parse(l) as Record<string, unknown>);
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      // One JSON object a line (workflow commands); history --json prints one indented object.
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, lines, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  await lab.up();
}, 180_000);

afterAll(async () => {
  await lab.down({ purge: true });
}, 60_000);

test('switchover --yes --json: the execution name first, each step as it finishes, exit 0', async () => {
  await lab.waitReady(30_000);
  const before = lab.readTopology();

  // What the control plane says about the execution when the CLI reports it started, and when it
  // reports the first step: still running both times, or the CLI did not stream.
  const seen: Promise<string>[] = [];
  const statusOf = async (name: string) =>
    ((await (await fetch(`${lab.apiUrl}/v1/executions/${name}`)).json()) as { status: string }).status;
  let name = '';
  const r = await pgwarden(['switchover', '--yes', '--json', '--reason', 'cli test'], (l) => {
    if (l.event === 'started') name = String(l.executionName);
    if (l.event === 'started' || (l.event === 'step' && l.state === 'Precheck')) seen.push(statusOf(name));
  });

  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const [first, ...rest] = r.lines;
  expect(first).toMatchObject({ event: 'started', workflow: 'switchover', started: true });
  expect(String(first.executionName)).toMatch(/switchover/);
  const steps = rest.filter((l) => l.event === 'step').map((l) => l.state);
  // The workflow's steps in order, each reported once.
  expect(steps).toEqual(expect.arrayContaining(['Precheck', 'SwitchPrimary', 'RecordSwitchover']));
  expect(steps.indexOf('Precheck')).toBeLessThan(steps.indexOf('SwitchPrimary'));
  expect(new Set(steps).size).toBe(steps.length);
  const done = rest[rest.length - 1];
  expect(done).toMatchObject({ event: 'done', outcome: 'succeeded' });
  expect((done.execution as { name: string }).name).toBe(first.executionName);
  expect(lab.readTopology().primary).not.toBe(before.primary);
  expect(await Promise.all(seen)).toEqual(['RUNNING', 'RUNNING']);
}, 120_000);

test('a refused switchover (automation paused) exits 1 with the reason and changes nothing', async () => {
  expect((await pgwarden(['pause', '--reason', 'cli test pause'])).code).toBe(0);
  try {
    const before = lab.readTopology();
    const r = await pgwarden(['switchover', '--yes', '--json']);
    expect(r.code).toBe(1);
    expect(r.lines[r.lines.length - 1]).toMatchObject({ event: 'done', outcome: 'refused' });
    expect(r.stderr).toMatch(/refused: .*paused/);
    const after = lab.readTopology();
    expect({ primary: after.primary, timeline: after.timeline, lease: after.lease }).toEqual({
      primary: before.primary,
      timeline: before.timeline,
      lease: before.lease,
    });
  } finally {
    expect((await pgwarden(['resume'])).code).toBe(0);
  }
}, 60_000);

test('failover of a healthy primary: the workflow finds nothing to do, exit 1; its dry run says so too', async () => {
  const before = lab.readTopology();

  const dry = await pgwarden(['failover', '--dry-run', '--json']);
  expect(dry.code).toBe(1);
  expect(dry.lines[0]).toMatchObject({ event: 'dry-run', workflow: 'failover', wouldProceed: false });
  expect(String(dry.lines[0].reason)).toMatch(/^false-alarm/);
  expect(lab.readTopology().version).toBe(before.version);

  const r = await pgwarden(['failover', '--yes', '--json']);
  expect(r.code).toBe(1);
  expect(r.lines[0]).toMatchObject({ event: 'started', workflow: 'failover' });
  expect(r.lines.filter((l) => l.event === 'step').map((l) => l.state)).toContain('AssessPrimary');
  expect(r.lines[r.lines.length - 1]).toMatchObject({ event: 'done', outcome: 'no action' });
  expect(lab.readTopology().primary).toBe(before.primary);
}, 60_000);

test('a switchover dry run runs the precheck and changes nothing', async () => {
  await lab.waitReady(30_000);
  const before = lab.readTopology();
  const r = await pgwarden(['switchover', '--dry-run']);
  expect(r.stdout).toMatch(/dry run of switchover: would go ahead/);
  expect(r.code).toBe(0);
  expect(lab.readTopology()).toEqual(before);
}, 60_000);

test('without --yes and without a terminal, a workflow command is refused and nothing starts', async () => {
  const known = (await (await fetch(`${lab.apiUrl}/v1/executions`)).json()) as { executions: unknown[] };
  const r = await pgwarden(['switchover']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/without confirmation: stdin is not a terminal \(pass --yes\)/);
  const after = (await (await fetch(`${lab.apiUrl}/v1/executions`)).json()) as { executions: unknown[] };
  expect(after.executions.length).toBe(known.executions.length);
});

test('history outlives a restart of the control plane: the same executions with their outcomes and steps', async () => {
  const history = async () => {
    const r = await pgwarden(['history', '--json', '--limit', '50']);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { executions: { name: string; workflow: string; status: string }[] }).executions;
  };
  const before = await history();
  // The switchover and the failover of the tests above, one succeeded and one that found nothing to do.
  expect(before.map((e) => e.workflow)).toEqual(expect.arrayContaining(['switchover', 'failover']));
  await lab.restartControlPlane();
  expect(await history()).toEqual(before);
  const one = await pgwarden(['history', before[0].name, '--json']);
  expect(one.code).toBe(0);
  expect((JSON.parse(one.stdout) as { executions: unknown[] }).executions).toEqual([before[0]]);
}, 120_000);
