'use strict';
/**
 * The naming contract between statemachines/*.asl.json, functions/ and the CloudFormation template.
 * Read by serverless.yml (through functions.js and statemachines.js) and by test/aws. Plain CommonJS:
 * Serverless v3 loads these files with `${file(...)}` before anything is compiled.
 *
 *   "Resource": "${FailoverReconfigurePgpoolFunctionArn}"
 *     -> function key      failoverReconfigurePgpool
 *     -> handler          functions/failover/reconfigure-pgpool.handler
 *     -> logical id       FailoverReconfigurePgpoolLambdaFunction
 *   statemachines/scale-out.asl.json
 *     -> logical id       ScaleOutStateMachine, name pgwarden-<cluster>-scale-out
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const STATEMACHINE_DIR = path.join(ROOT, 'statemachines');
const FUNCTIONS_DIR = path.join(ROOT, 'functions');
const NODE_SCRIPTS_DIR = path.join(ROOT, 'infra', 'node');

/**
 * The node actions (functions/lib/ports.ts NodeAction): one SSM document each. Defined once, in
 * functions/lib/node-actions.json.
 */
const NODE_ACTIONS = Object.keys(require('../../functions/lib/node-actions.json').actions);

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9]*)\}/g;

const pascal = (kebab) =>
  kebab
    .split(/[-_]/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
const lowerFirst = (s) => s[0].toLowerCase() + s.slice(1);
const words = (pascalName) => pascalName.match(/[A-Z][a-z0-9]*/g) || [];
const kebab = (ws) => ws.map((w) => w.toLowerCase()).join('-');

/** Every workflow definition: statemachines/<workflow>.asl.json, sorted by name. */
function workflows(dir = STATEMACHINE_DIR) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.asl.json'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.asl.json'.length);
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      let definition;
      try {
        definition = JSON.parse(text);
      } catch (err) {
        throw new Error(`statemachines/${file} is not valid JSON: ${err.message}`, { cause: err });
      }
      const placeholders = [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))].sort();
      return {
        name,
        file: path.join(dir, file),
        definition,
        placeholders,
        logicalId: `${pascal(name)}StateMachine`,
        stateMachineName: (cluster) => `pgwarden-${cluster}-${name}`,
      };
    });
}

/**
 * `${<Area><Step>FunctionArn}` -> the Lambda that implements it. The area is the longest leading run of
 * words naming a folder under functions/ that holds the step's file; without one, the first word.
 */
function stepFunction(placeholder, functionsDir = FUNCTIONS_DIR) {
  const m = /^([A-Z][A-Za-z0-9]*)FunctionArn$/.exec(placeholder);
  if (!m) return undefined;
  const ws = words(m[1]);
  if (ws.length < 2)
    throw new Error(`\${${placeholder}} names no <Area><Step>: expected e.g. \${FailoverAssessFunctionArn}`);
  let split = 1;
  for (let i = ws.length - 1; i >= 1; i--) {
    const area = ws.slice(0, i);
    const step = kebab(ws.slice(i));
    const found = [kebab(area), area.join('').toLowerCase(), lowerFirst(area.join(''))].find((dir) =>
      ['.ts', '.js', '.mts'].some((ext) => fs.existsSync(path.join(functionsDir, dir, step + ext))),
    );
    if (found) {
      return describe(m[1], found, step);
    }
  }
  return describe(m[1], ws[0].toLowerCase(), kebab(ws.slice(split)));
}

function describe(pascalName, areaDir, step) {
  const key = lowerFirst(pascalName);
  return {
    key,
    handler: `functions/${areaDir}/${step}.handler`,
    logicalId: `${pascalName}LambdaFunction`,
  };
}

/**
 * Names of account-global resources (one namespace per account and region): every one carries the
 * cluster, so that two clusters can share an account and region (test/aws: account-global names).
 */
const namePrefix = (cluster) => `pgwarden-${cluster}`;
/** SSM document of a node action: the prefix is PGWARDEN_SSM_DOCUMENT_PREFIX. */
const documentName = (cluster, action) => `${namePrefix(cluster)}-${action}`;
const installDocumentName = (cluster) => documentName(cluster, 'install-node-scripts');
/** Lambda function names (also their log groups): cluster and stage. */
const functionName = (cluster, stage, key) => `${namePrefix(cluster)}-${stage}-${key}`;
const topologyTableName = (cluster) => `${namePrefix(cluster)}-topology`;

/** Serverless v3's normalizeName: the logical id prefix of a function key. */
const functionLogicalId = (key) =>
  `${key[0].toUpperCase()}${key.slice(1).replace(/-/g, 'Dash').replace(/_/g, 'Underscore')}LambdaFunction`;

module.exports = {
  ROOT,
  STATEMACHINE_DIR,
  FUNCTIONS_DIR,
  NODE_SCRIPTS_DIR,
  NODE_ACTIONS,
  PLACEHOLDER,
  pascal,
  workflows,
  stepFunction,
  functionLogicalId,
  namePrefix,
  documentName,
  installDocumentName,
  functionName,
  topologyTableName,
};
