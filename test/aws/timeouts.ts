/**
 * Timeouts of the workflows' Lambdas: a Lambda runs at most 900 s, and a Task whose TimeoutSeconds is
 * longer than its Lambda's timeout promises a wait the Lambda cannot keep (the Lambda is killed first:
 * a long node command must be started by one Task and polled by another, functions/lib/long-command.ts).
 */
import { type Json, type Template, byType, isObject } from './template';

export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

export interface AslState {
  Type?: string;
  Resource?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Parameters?: Record<string, Json>;
  Branches?: { States?: Record<string, AslState> }[];
  Iterator?: { States?: Record<string, AslState> };
  ItemProcessor?: { States?: Record<string, AslState> };
}

/** Every state of a definition, Parallel branches and Map iterators included, with its path. */
export function* statesOf(states: Record<string, AslState> | undefined, at: string): Generator<[string, AslState]> {
  for (const [name, s] of Object.entries(states ?? {})) {
    yield [`${at}.${name}`, s];
    for (const [i, b] of (s.Branches ?? []).entries()) yield* statesOf(b.States, `${at}.${name}.Branches[${i}]`);
    if (s.Iterator) yield* statesOf(s.Iterator.States, `${at}.${name}.Iterator`);
    if (s.ItemProcessor) yield* statesOf(s.ItemProcessor.States, `${at}.${name}.ItemProcessor`);
  }
}

/** The logical id of the Lambda a Task invokes, through the state machine's DefinitionSubstitutions. */
export function lambdaOf(s: AslState, subs: Record<string, Json>): string | undefined {
  const ref =
    s.Resource === 'arn:aws:states:::lambda:invoke' || s.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken'
      ? s.Parameters?.FunctionName
      : s.Resource;
  if (typeof ref !== 'string') return undefined;
  const m = /^\$\{([A-Za-z0-9]+)\}$/.exec(ref);
  const v = m ? subs[m[1]] : undefined;
  const getAtt = isObject(v) ? v['Fn::GetAtt'] : undefined;
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/**
 * Every Lambda's Timeout is at most 900 s, and every Task that invokes one of the stack's Lambdas has a
 * TimeoutSeconds equal to that Lambda's Timeout: not longer (the Lambda would be cut off first), not
 * shorter (a retry would start while the abandoned attempt still runs).
 */
export function taskTimeoutErrors(t: Template): string[] {
  const errs: string[] = [];
  const lambdas = new Map(byType(t, 'AWS::Lambda::Function').map(([id, r]) => [id, r.Properties?.Timeout]));
  for (const [id, timeout] of lambdas) {
    if (typeof timeout !== 'number') errs.push(`${id}: Timeout ${JSON.stringify(timeout)} is not a number`);
    else if (timeout > LAMBDA_MAX_TIMEOUT_SECONDS)
      errs.push(`${id}: Timeout ${timeout} s is over Lambda's maximum of ${LAMBDA_MAX_TIMEOUT_SECONDS} s`);
  }
  for (const [sm, r] of byType(t, 'AWS::StepFunctions::StateMachine')) {
    const p = r.Properties ?? {};
    const def = (typeof p.DefinitionString === 'string' ? JSON.parse(p.DefinitionString) : p.Definition) as
      { States?: Record<string, AslState> } | undefined;
    if (!def?.States) {
      errs.push(`${sm}: no Definition to check`);
      continue;
    }
    const subs = (isObject(p.DefinitionSubstitutions) ? p.DefinitionSubstitutions : {}) as Record<string, Json>;
    for (const [where, s] of statesOf(def.States, sm)) {
      if (s.Type !== 'Task') continue;
      const fn = lambdaOf(s, subs);
      if (!fn) continue;
      const limit = lambdas.get(fn);
      if (limit === undefined) {
        errs.push(`${where}: invokes ${fn}, which is not a Lambda of the stack`);
        continue;
      }
      if (typeof s.TimeoutSeconds !== 'number') {
        errs.push(`${where}: no TimeoutSeconds (its Lambda ${fn} stops at ${String(limit)} s)`);
        continue;
      }
      if (typeof limit === 'number' && s.TimeoutSeconds > limit)
        errs.push(
          `${where}: TimeoutSeconds ${s.TimeoutSeconds} is longer than its Lambda ${fn}'s Timeout ${limit} s ` +
            '(start the work in one Task and poll it from another)',
        );
      else if (typeof limit === 'number' && s.TimeoutSeconds < limit && !isWarmup(s))
        errs.push(
          `${where}: TimeoutSeconds ${s.TimeoutSeconds} is shorter than its Lambda ${fn}'s Timeout ${limit} s ` +
            '(a retry could run beside an attempt that is still working)',
        );
    }
  }
  return errs;
}

/** A warm-up invocation ({"warmup": true}): it returns at once, so it may give up before its Lambda. */
function isWarmup(s: AslState): boolean {
  const p = (s as { Parameters?: unknown }).Parameters;
  return isObject(p) && p.warmup === true;
}
