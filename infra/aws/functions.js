'use strict';
/**
 * The workflow-step Lambdas, generated from the Task resources of statemachines/*.asl.json, so that a
 * new step in an ASL file needs no serverless.yml edit. Used as `${file(./infra/aws/functions.js):workflowSteps}`;
 * `:rehearsalFunctionsJson` lists the same functions for the rehearsal Lambda, `:resources` holds the
 * parameter of its schedule.
 */
const { workflows, stepFunction, functionName } = require('./naming');

/** Every Task state of an ASL definition (Parallel branches and Map iterators included). */
function tasks(states) {
  const out = [];
  for (const s of Object.values(states ?? {})) {
    if (s.Type === 'Task') out.push(s);
    for (const b of s.Branches ?? []) out.push(...tasks(b.States));
    for (const it of [s.Iterator, s.ItemProcessor]) if (it) out.push(...tasks(it.States));
  }
  return out;
}

/**
 * One entry per distinct `${<Area><Step>FunctionArn}` over every workflow, with `timeout`: the
 * TimeoutSeconds of the Tasks that invoke it (they must agree). The Lambda stops when its Task gives
 * up, so a retry never runs beside an attempt that is still working.
 */
function stepFunctions(wfs = workflows()) {
  const byKey = new Map();
  for (const wf of wfs) {
    for (const p of wf.placeholders) {
      const fn = stepFunction(p);
      if (!fn) continue;
      const seen = byKey.get(fn.key);
      if (seen) seen.workflows.push(wf.name);
      else byKey.set(fn.key, { ...fn, placeholder: p, workflows: [wf.name], timeouts: new Set() });
    }
    for (const t of tasks(wf.definition.States)) {
      const m = /^\$\{(\w+)\}$/.exec(typeof t.Resource === 'string' ? t.Resource : '');
      const fn = m && stepFunction(m[1]);
      // A warm-up Task ({"warmup": true}) does no work: its shorter timeout is not the Lambda's.
      const warmup = t.Parameters && t.Parameters.warmup === true;
      if (fn && !warmup && typeof t.TimeoutSeconds === 'number') byKey.get(fn.key).timeouts.add(t.TimeoutSeconds);
    }
  }
  return [...byKey.values()]
    .map(({ timeouts, ...fn }) => {
      if (timeouts.size !== 1)
        throw new Error(
          `the Tasks invoking ${fn.key} must share one TimeoutSeconds (the Lambda's timeout), found ${[...timeouts].join(', ') || 'none'}`,
        );
      return { ...fn, timeout: [...timeouts][0] };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

async function workflowSteps({ resolveVariable }) {
  const [cluster, stage] = await Promise.all([resolveVariable('self:custom.cluster'), resolveVariable('sls:stage')]);
  // Required here, not at the top: iam.js reads stepFunctions() from this file.
  const { roleLogicalId } = require('./iam');
  const out = {};
  for (const fn of stepFunctions()) {
    out[fn.key] = {
      handler: fn.handler,
      name: functionName(cluster, stage, fn.key),
      role: roleLogicalId(fn.key),
      description: `pgwarden workflow step (${fn.workflows.join(', ')})`,
      // The ASL's TimeoutSeconds for this step: it covers the step's worst case (its node commands).
      timeout: fn.timeout,
    };
  }
  return out;
}

/**
 * The rehearsal Lambda's PGWARDEN_REHEARSAL_FUNCTIONS: every workflow step Lambda, from the same list
 * as workflowSteps, as {"prefix": "pgwarden-<cluster>-<stage>-", "functions": [<key>, ...]}: their names
 * share the prefix, written once to stay well within Lambda's 4 KB of environment (functions/lib/env.ts;
 * test/aws checks the list against the state machines).
 */
async function rehearsalFunctionsJson({ resolveVariable }) {
  const [cluster, stage] = await Promise.all([resolveVariable('self:custom.cluster'), resolveVariable('sls:stage')]);
  return JSON.stringify({ prefix: functionName(cluster, stage, ''), functions: stepFunctions().map((fn) => fn.key) });
}

/** The stack parameter of the rehearsal's schedule (serverless.yml: params.rehearsalSchedule). */
const REHEARSAL_SCHEDULE_DEFAULT = 'rate(7 days)';
async function resources() {
  return {
    Parameters: {
      RehearsalSchedule: {
        Type: 'String',
        // Lambda makes a VPC function inactive after weeks without an invocation: weekly stays well under that.
        Default: REHEARSAL_SCHEDULE_DEFAULT,
        Description:
          'When the rehearsal invokes every workflow step Lambda (an EventBridge schedule expression; weekly by default)',
        AllowedPattern: '^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\([^()]+\\))$',
      },
    },
  };
}

module.exports = { stepFunctions, workflowSteps, rehearsalFunctionsJson, resources, REHEARSAL_SCHEDULE_DEFAULT };
