'use strict';
/**
 * The workflow-step Lambdas, generated from the Task resources of statemachines/*.asl.json, so that a
 * new step in an ASL file needs no serverless.yml edit. Used as `${file(./infra/aws/functions.js):workflowSteps}`.
 */
const { workflows, stepFunction, functionName } = require('./naming');

/** One entry per distinct `${<Area><Step>FunctionArn}` over every workflow. */
function stepFunctions(wfs = workflows()) {
  const byKey = new Map();
  for (const wf of wfs) {
    for (const p of wf.placeholders) {
      const fn = stepFunction(p);
      if (!fn) continue;
      const seen = byKey.get(fn.key);
      if (seen) seen.workflows.push(wf.name);
      else byKey.set(fn.key, { ...fn, placeholder: p, workflows: [wf.name] });
    }
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
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
      // A step may wait for an SSM command on a node (promote, follow, rejoin): up to the Lambda maximum; the ASL sets each Task's own TimeoutSeconds.
      timeout: 900,
    };
  }
  return out;
}

module.exports = { stepFunctions, workflowSteps };
