'use strict';
/**
 * Fn::Sub over a text file (user data, agent configuration): `${Name}` for a name in `vars` (or an
 * AWS:: pseudo parameter) is substituted; every other `${...}` (bash, the CloudWatch agent's own
 * variables) is escaped to `${!...}` so that CloudFormation leaves it as written.
 */
const fs = require('node:fs');

function sub(text, vars) {
  const escaped = text.replace(/\$\{([^}]*)\}/g, (whole, name) =>
    name in vars || name.startsWith('AWS::') ? whole : `\${!${name}}`,
  );
  const used = Object.fromEntries(Object.entries(vars).filter(([k]) => escaped.includes(`\${${k}}`)));
  if (Object.keys(used).length) return { 'Fn::Sub': [escaped, used] };
  // Nothing to substitute: the text as written; with any ${...} in it, escaped inside Fn::Sub (so that
  // neither Serverless nor CloudFormation reads it as a variable).
  return text.includes('${') ? { 'Fn::Sub': escaped } : text;
}

const subFile = (file, vars) => sub(fs.readFileSync(file, 'utf8'), vars);

module.exports = { sub, subFile };
