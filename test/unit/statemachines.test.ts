/**
 * Every workflow definition: valid ASL, Retry and Catch on every Task, and a Lambda (or a workflow it
 * nests) behind every Task.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { loadDefinition, moduleForResource, NESTED_EXECUTION } from '../../infra/local/runner';

const dir = join(__dirname, '..', '..', 'statemachines');
const files = readdirSync(dir).filter((f) => f.endsWith('.asl.json'));
const WORKFLOWS = files.map((f) => f.replace('.asl.json', ''));
const pascal = (w: string) => w.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());

interface State {
  Type: string;
  Resource?: string;
  Retry?: unknown[];
  Catch?: { Next: string }[];
  Branches?: { States: Record<string, State> }[];
}

function allStates(states: Record<string, State>, out: [string, State][] = []): [string, State][] {
  for (const [n, s] of Object.entries(states)) {
    out.push([n, s]);
    for (const b of s.Branches ?? []) allStates(b.States, out);
  }
  return out;
}

test('the failover workflow exists', () => {
  expect(files).toContain('failover.asl.json');
});

describe.each(files)('%s', (file) => {
  const raw = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { States: Record<string, State> };
  const workflow = file.replace('.asl.json', '');

  test('is valid ASL once its Lambda ARNs are substituted', () => {
    const { definition } = loadDefinition(workflow);
    const r = aslValidator(definition as never);
    expect(r.errors).toEqual([]);
    expect(r.isValid).toBe(true);
  });

  test('every Task retries and has a Catch (tasks inside a Parallel are caught by it)', () => {
    const caughtByParallel = new Set(
      allStates(raw.States)
        .filter(([, s]) => s.Type === 'Parallel' && s.Catch?.length)
        .flatMap(([, s]) => (s.Branches ?? []).flatMap((b) => Object.keys(b.States))),
    );
    for (const [name, s] of allStates(raw.States).filter(([, s]) => s.Type === 'Task')) {
      expect({ name, retry: (s.Retry ?? []).length > 0 }).toEqual({ name, retry: true });
      expect({ name, caught: (s.Catch ?? []).length > 0 || caughtByParallel.has(name) }).toEqual({
        name,
        caught: true,
      });
    }
  });

  test('every Task resource names a step module that exports step() and handler, or a workflow it nests', () => {
    for (const [, s] of allStates(raw.States).filter(([, s]) => s.Type === 'Task')) {
      if (NESTED_EXECUTION.test(s.Resource!)) {
        const arn = (s as { Parameters?: { StateMachineArn?: string } }).Parameters?.StateMachineArn ?? '';
        const m = /^\$\{([A-Za-z]+)StateMachineArn\}$/.exec(arn);
        expect({ arn, nests: !!m && WORKFLOWS.some((w) => pascal(w) === m[1]) }).toEqual({ arn, nests: true });
        continue;
      }
      const mod = require(moduleForResource(s.Resource!).file) as { step?: unknown; handler?: unknown };
      expect(typeof mod.step).toBe('function');
      expect(typeof mod.handler).toBe('function');
    }
  });

  test('has a Fail state reached from a notifying task', () => {
    const states = allStates(raw.States);
    expect(states.some(([, s]) => s.Type === 'Fail')).toBe(true);
  });
});

describe('maintenance nests the switchover workflow (AWS: infra/aws/statemachines.js)', () => {
  const { build } = require('../../infra/aws/statemachines') as {
    build(cluster: string): { Resources: Record<string, { Properties: Record<string, unknown> }> };
  };
  const { Resources } = build('c1');
  const role = Resources.StateMachineRole.Properties as {
    Policies: { PolicyDocument: { Statement: { Sid: string; Action: string[]; Resource: unknown }[] } }[];
  };
  const statement = (sid: string) => role.Policies[0].PolicyDocument.Statement.find((s) => s.Sid === sid);
  const switchoverArn = {
    'Fn::Sub': 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:pgwarden-c1-switchover',
  };

  test("its nested Task names the switchover state machine's ARN", () => {
    const sm = Object.values(Resources).find((r) => r.Properties.StateMachineName === 'pgwarden-c1-maintenance');
    expect((sm?.Properties.DefinitionSubstitutions as Record<string, unknown>).SwitchoverStateMachineArn).toEqual(
      switchoverArn,
    );
  });

  test('the state machines may start the switchover, watch it, and use the rule .sync waits with', () => {
    expect(statement('StartChildWorkflows')).toMatchObject({
      Action: ['states:StartExecution'],
      Resource: expect.arrayContaining([switchoverArn]),
    });
    expect(statement('WatchChildWorkflows')?.Action).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(statement('SyncChildWorkflows')?.Action).toEqual([
      'events:PutTargets',
      'events:PutRule',
      'events:DescribeRule',
    ]);
  });
});

test('the lab runs, for every Task, the module the AWS stack packages as its Lambda (one mapping, naming.js)', () => {
  const { stepFunction } = require('../../infra/aws/naming') as {
    stepFunction(p: string): { handler: string } | undefined;
  };
  const resources = files.flatMap((f) =>
    [...readFileSync(join(dir, f), 'utf8').matchAll(/"Resource":\s*"\$\{([A-Za-z0-9]+FunctionArn)\}"/g)].map(
      (m) => m[1],
    ),
  );
  expect(resources.length).toBeGreaterThan(30);
  for (const r of new Set(resources)) {
    const lab = moduleForResource(`\${${r}}`).file;
    expect({ r, lab }).toEqual({ r, lab: join(dir, '..', stepFunction(r)!.handler.replace(/\.handler$/, '.ts')) });
  }
});
