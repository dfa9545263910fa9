'use strict';
/**
 * One SSM Command document per node action: `pgwarden-<action>` runs /opt/pgwarden/node/<action>.sh as
 * root with each parameter exported as PGW_PARAM_<NAME>. The parameters are read from the scripts
 * themselves (every PGW_PARAM_<NAME> they use), so the script stays the only definition.
 * Used as `${file(./infra/aws/actions.js):resources}`; documentArns feeds the Lambdas' IAM policy.
 */
const fs = require('node:fs');
const path = require('node:path');
const { NODE_ACTIONS, NODE_SCRIPTS_DIR, pascal, documentName } = require('./naming');

// Values are interpolated into a single-quoted shell assignment: no quote, backslash or newline.
const SAFE_VALUE = "^[^'\\\\\\r\\n]*$";
/**
 * Every document's own `executionTimeout` parameter, as AWS-RunShellScript has it: how long the script
 * may run on the node (aws:runShellScript timeoutSeconds), 1 s to 48 h. Its default suits the commands
 * a Lambda waits for (NodeCommands.run); NodeCommands.start passes the command's own timeout, which
 * may be far longer than a Lambda can run (a pg_basebackup of a large database).
 */
const EXECUTION_TIMEOUT = {
  type: 'String',
  default: '900',
  allowedPattern: '^([1-9][0-9]{0,4}|1[0-6][0-9]{4}|17[01][0-9]{3}|172[0-7][0-9]{2}|172800)$',
  description: 'Seconds the script may run on the node before it is stopped (1 to 172800)',
};

function scriptParameters(action, dir = NODE_SCRIPTS_DIR) {
  const names = new Set();
  for (const f of [`${action}.sh`, 'lib.sh']) {
    const file = path.join(dir, f);
    if (!fs.existsSync(file)) continue;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/PGW_PARAM_([A-Z0-9_]+)/g)) {
      // lib.sh's helper reads PGW_PARAM_$1 dynamically: not a parameter name.
      if (m[1]) names.add(m[1]);
    }
  }
  return [...names].sort();
}

const documentLogicalId = (action) => `${pascal(action)}NodeActionDocument`;

function document(cluster, action, dir = NODE_SCRIPTS_DIR) {
  const params = scriptParameters(action, dir);
  const parameters = {
    ...Object.fromEntries(
      params.map((p) => [
        p,
        { type: 'String', default: '', allowedPattern: SAFE_VALUE, description: `PGW_PARAM_${p} of ${action}.sh` },
      ]),
    ),
    executionTimeout: EXECUTION_TIMEOUT,
  };
  return {
    Type: 'AWS::SSM::Document',
    Properties: {
      Name: documentName(cluster, action),
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
      UpdateMethod: 'NewVersion',
      TargetType: '/AWS::EC2::Instance',
      Content: {
        schemaVersion: '2.2',
        description: `pgwarden node action ${action}: runs infra/node/${action}.sh on the instance`,
        parameters,
        mainSteps: [
          {
            action: 'aws:runShellScript',
            name: action.replace(/[^A-Za-z0-9]/g, ''),
            precondition: { StringEquals: ['platformType', 'Linux'] },
            inputs: {
              timeoutSeconds: '{{ executionTimeout }}',
              runCommand: [
                ...params.map((p) => `export PGW_PARAM_${p}='{{ ${p} }}'`),
                `exec /opt/pgwarden/node/${action}.sh`,
              ],
            },
          },
        ],
      },
    },
  };
}

function build(cluster, actions = NODE_ACTIONS, dir = NODE_SCRIPTS_DIR) {
  return { Resources: Object.fromEntries(actions.map((a) => [documentLogicalId(a), document(cluster, a, dir)])) };
}

async function resources({ resolveVariable }) {
  return build(await resolveVariable('self:custom.cluster'));
}

/** arn:...:document/pgwarden-<cluster>-<action> for the given actions (default: every one). */
function documentArns(cluster, actions = NODE_ACTIONS) {
  return actions
    .map((a) => documentName(cluster, a))
    .map((name) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:document/${name}`,
    }));
}

module.exports = {
  build,
  resources,
  documentArns,
  scriptParameters,
  documentName,
  documentLogicalId,
  SAFE_VALUE,
  EXECUTION_TIMEOUT,
};
