/**
 * The rehearsal of the step Lambdas (functions/rehearsal), checked in the compiled template against
 * the state machines themselves, not against the list the stack was built from: the Lambdas it
 * rehearses are exactly those a state machine's Task invokes, a schedule invokes it, and its role may
 * invoke exactly those Lambdas.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Json, type Resource, type Template, ROOT, asArray, byType, isObject } from './template';
import { identityStatements } from './rules';
import { type AslState, lambdaOf, statesOf } from './timeouts';

export const REHEARSAL_VARIABLE = 'PGWARDEN_REHEARSAL_FUNCTIONS';

const envOf = (r: Resource) =>
  ((r.Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {}) as Record<
    string,
    Json
  >;

/** Logical id of every Lambda a state machine's Task invokes -> where ("Sm.State"). */
export function taskLambdas(t: Template): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [sm, r] of byType(t, 'AWS::StepFunctions::StateMachine')) {
    const p = r.Properties ?? {};
    const def = (typeof p.DefinitionString === 'string' ? JSON.parse(p.DefinitionString) : p.Definition) as
      { States?: Record<string, AslState> } | undefined;
    const subs = (isObject(p.DefinitionSubstitutions) ? p.DefinitionSubstitutions : {}) as Record<string, Json>;
    for (const [where, s] of statesOf(def?.States, sm)) {
      if (s.Type !== 'Task') continue;
      const fn = lambdaOf(s, subs);
      if (fn) out.set(fn, [...(out.get(fn) ?? []), where]);
    }
  }
  return out;
}

/** The rehearsal Lambda: the one whose environment holds PGWARDEN_REHEARSAL_FUNCTIONS. */
export function rehearsalLambdas(t: Template): [string, Resource][] {
  return byType(t, 'AWS::Lambda::Function').filter(([, r]) => REHEARSAL_VARIABLE in envOf(r));
}

const LAMBDA_ARN = /^arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:\$\{AWS::AccountId\}:function:([A-Za-z0-9_-]+)$/;

/** Every breach, one sentence each; empty when the rehearsal covers exactly the Task Lambdas. */
export function rehearsalErrors(t: Template): string[] {
  const errs: string[] = [];
  const found = rehearsalLambdas(t);
  if (found.length !== 1)
    return [
      `expected one Lambda with ${REHEARSAL_VARIABLE}, found ${found.length} (${found.map(([id]) => id).join(', ')})`,
    ];
  const [id, fn] = found[0];

  // The names the state machines' Tasks invoke.
  const steps = new Map<string, string>();
  for (const [lambdaId, where] of taskLambdas(t)) {
    const name = t.Resources[lambdaId]?.Properties?.FunctionName;
    if (typeof name !== 'string') errs.push(`${lambdaId} (invoked by ${where[0]}) has no literal FunctionName`);
    else steps.set(name, where[0]);
  }
  if (!steps.size) errs.push('no state machine Task invokes a Lambda of the stack: nothing to compare with');

  // What the rehearsal invokes: {"prefix": ..., "functions": [...]} (functions/lib/env.ts).
  const raw = envOf(fn)[REHEARSAL_VARIABLE];
  let listed: string[] = [];
  try {
    const v = JSON.parse(String(raw)) as { prefix?: unknown; functions?: unknown };
    if (typeof v.prefix !== 'string' || !Array.isArray(v.functions)) throw new Error('no prefix and functions');
    listed = v.functions.map((f) => `${v.prefix as string}${String(f)}`);
  } catch (e) {
    errs.push(`${id}.${REHEARSAL_VARIABLE} does not list functions: ${JSON.stringify(raw)} (${(e as Error).message})`);
  }
  for (const [name, where] of steps)
    if (!listed.includes(name)) errs.push(`${name} (invoked by ${where}) is not rehearsed by ${id}`);
  for (const name of listed)
    if (!steps.has(name)) errs.push(`${id} rehearses ${name}, which no state machine Task invokes`);

  // A schedule invokes it.
  const targetsIt = (r: Resource) =>
    asArray(r.Properties?.Targets as Json[] | undefined).some(
      (x) => isObject(x) && JSON.stringify(x.Arn) === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }),
    );
  const rules = byType(t, 'AWS::Events::Rule').filter(
    ([, r]) => r.Properties?.ScheduleExpression !== undefined && r.Properties?.State !== 'DISABLED' && targetsIt(r),
  );
  if (!rules.length) errs.push(`no enabled schedule rule targets ${id}`);
  const permitted = byType(t, 'AWS::Lambda::Permission').some(
    ([, r]) =>
      r.Properties?.Principal === 'events.amazonaws.com' &&
      JSON.stringify(r.Properties?.FunctionName).includes(`"${id}"`) &&
      rules.some(([ruleId]) => JSON.stringify(r.Properties?.SourceArn).includes(`"${ruleId}"`)),
  );
  if (rules.length && !permitted) errs.push(`no Lambda permission lets its schedule rule invoke ${id}`);

  // Its role may invoke exactly the step Lambdas.
  const role = ((fn.Properties?.Role as Record<string, Json> | undefined)?.['Fn::GetAtt'] as string[] | undefined)?.[0];
  const grants = role && t.Resources[role] ? identityStatements({ Resources: { [role]: t.Resources[role] } }) : [];
  const invocable = new Set<string>();
  for (const { s } of grants.filter(({ s }) => asArray(s.Action).map(String).includes('lambda:InvokeFunction')))
    for (const r of asArray(s.Resource as Json | Json[])) {
      const sub = isObject(r) ? r['Fn::Sub'] : r;
      const m = typeof sub === 'string' ? LAMBDA_ARN.exec(sub) : null;
      if (!m) errs.push(`${role} may invoke ${JSON.stringify(r)}, not one named function`);
      else invocable.add(m[1]);
    }
  for (const name of steps.keys())
    if (!invocable.has(name)) errs.push(`${role ?? id}: may not invoke ${name}, which it must rehearse`);
  for (const name of invocable)
    if (!steps.has(name)) errs.push(`${role}: may invoke ${name}, which is no workflow step`);
  return errs;
}

/**
 * The rehearsed functions whose handler does not answer the rehearsal input: every handler file must
 * export its handler built by lambda() (functions/lib/handler.ts).
 */
export function handlersWithoutRehearsal(t: Template): string[] {
  const errs: string[] = [];
  for (const lambdaId of taskLambdas(t).keys()) {
    const handler = String(t.Resources[lambdaId]?.Properties?.Handler);
    const file = path.join(ROOT, handler.replace(/\.[^./]+$/, '') + '.ts');
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (!/^export const handler = lambda\(/m.test(text))
      errs.push(`${lambdaId} (${handler}): its handler is not built by lambda(), so it does not answer the rehearsal`);
  }
  return errs;
}
