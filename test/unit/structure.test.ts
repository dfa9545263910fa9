/**
 * The direction of the code (issue 16): trigger → workflow → step → port → adapter. Workflow areas
 * do not reach into each other: what planned workflows share lives in functions/planned/, and the
 * state machines name their own area's steps or the shared ones. Derived from the files themselves.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { moduleForResource } from '../../infra/local/runner';

const ROOT = join(__dirname, '..', '..');
const WORKFLOW_AREAS = ['failover', 'switchover', 'rejoin', 'maintenance', 'scale'];

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p, ext) : ext.test(n) ? [p] : [];
  });
}

/** [importing file, imported file] for every relative import under functions/, both relative to ROOT. */
function imports(): [string, string][] {
  return files(join(ROOT, 'functions'), /\.ts$/).flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)].map(
      (m) => [relative(ROOT, f), relative(ROOT, normalize(join(dirname(f), m[1])))] as [string, string],
    ),
  );
}

const areaOf = (f: string) => f.split('/')[1];

/** Imports from one workflow area into another, or from planned/ into a workflow area. */
function crossings(edges: [string, string][]): string[] {
  return edges
    .filter(([from, to]) => {
      const [a, b] = [areaOf(from), areaOf(to)];
      const fromWorkflowSide = WORKFLOW_AREAS.includes(a) || a === 'planned';
      return fromWorkflowSide && WORKFLOW_AREAS.includes(b) && a !== b;
    })
    .map(([from, to]) => `${from} -> ${to}`);
}

/** `<workflow> -> <area>` for every step a state machine calls from another workflow's area (plus `extra` resources). */
function foreignSteps(extra: Record<string, string[]> = {}): string[] {
  const out = new Set<string>();
  for (const f of files(join(ROOT, 'statemachines'), /\.asl\.json$/)) {
    const workflow = relative(join(ROOT, 'statemachines'), f).replace(/\.asl\.json$/, '');
    const own = workflow.replace(/-(in|out)$/, '');
    const resources = [
      ...[...readFileSync(f, 'utf8').matchAll(/"Resource":\s*"(\$\{[A-Za-z]+FunctionArn\})"/g)].map((m) => m[1]),
      ...(extra[workflow] ?? []),
    ];
    for (const r of resources) {
      const { area } = moduleForResource(r);
      if (area !== own && area !== 'planned') out.add(`${own} -> ${area}`);
    }
  }
  return [...out].sort();
}

describe('one home for each concept', () => {
  it('no workflow area, nor planned/, imports from another workflow area', () => {
    const edges = imports();
    expect(edges.length).toBeGreaterThan(300); // the derivation sees the code, not an empty set
    expect(crossings(edges)).toEqual([]);
    // It would see one: rejoin's types imported by planned/ (as before the move) and scale reaching into switchover.
    expect(
      crossings([
        ['functions/planned/wait-caught-up.ts', 'functions/rejoin/types'],
        ['functions/scale/abort-in.ts', 'functions/switchover/abort'],
        ['functions/triggers/scale.ts', 'functions/scale/types'],
      ]),
    ).toEqual([
      'functions/planned/wait-caught-up.ts -> functions/rejoin/types',
      'functions/scale/abort-in.ts -> functions/switchover/abort',
    ]);
  });

  it('nothing in functions/ imports from infra/ (the only arrow up was the alarm definitions)', () => {
    expect(imports().filter(([, to]) => to.startsWith('infra/'))).toEqual([]);
  });

  it("state machines call their own area's steps or the shared planned ones (maintenance nests the switchover workflow)", () => {
    expect(foreignSteps()).toEqual([]);
    // It would see one: a maintenance that ran switchover's switch step itself, as it did before.
    expect(foreignSteps({ maintenance: ['${SwitchoverSwitchPrimaryFunctionArn}'] })).toEqual([
      'maintenance -> switchover',
    ]);
  });
});
