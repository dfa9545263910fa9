'use strict';
/**
 * One SSM Command document per node action: `pgwarden-<action>` runs /opt/pgwarden/node/<action>.sh as
 * root with each parameter exported as PGW_PARAM_<NAME>. The parameters are read from the scripts
 * themselves (every PGW_PARAM_<NAME> they use), so the script stays the only definition.
 * Used as `${file(./infra/aws/actions.js):resources}`; documentArns feeds the Lambdas' IAM policy.
 */
const fs = require('node:fs');
const path = require('node:path');
const { NODE_ACTIONS, NODE_SCRIPTS_DIR, pascal } = require('./naming');

// Values are interpolated into a single-quoted shell assignment: no quote, backslash or newline.
const SAFE_VALUE = "^[^'\\\\\\r\\n]*$";

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
const documentName = (action) => `pgwarden-${action}`;

function document(action, dir = NODE_SCRIPTS_DIR) {
  const params = scriptParameters(action, dir);
  const parameters = Object.fromEntries(
    params.map((p) => [
      p,
      { type: 'String', default: '', allowedPattern: SAFE_VALUE, description: `PGW_PARAM_${p} of ${action}.sh` },
    ]),
  );
  return {
    Type: 'AWS::SSM::Document',
    Properties: {
      Name: documentName(action),
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
              timeoutSeconds: '900',
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

function build(actions = NODE_ACTIONS, dir = NODE_SCRIPTS_DIR) {
  return { Resources: Object.fromEntries(actions.map((a) => [documentLogicalId(a), document(a, dir)])) };
}

async function resources() {
  return build();
}

/** arn:...:document/pgwarden-<action> for every action, plus the script installer. */
async function documentArns() {
  return [...NODE_ACTIONS.map(documentName), 'pgwarden-install-node-scripts'].map((name) => ({
    'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:document/${name}`,
  }));
}

module.exports = { build, resources, documentArns, scriptParameters, documentName, documentLogicalId, SAFE_VALUE };
