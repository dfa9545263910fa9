'use strict';
/**
 * The EventBridge rules of functions/triggers/event-rules.json (the lab's event bus reads the same file)
 * as the `events` of the functions they invoke:
 *   events: ${file(./infra/aws/event-rules.js):events.<function key>}
 * A pattern's "{placeholder}" value is filled in here with the cluster's own resources.
 */
const { alarmArns } = require('./alarms');
const { nodeInstanceIds } = require('./nodes');

const definitions = () => require('../../functions/triggers/event-rules.json');

/** "{name}" in a pattern -> the CloudFormation value it stands for. */
const PLACEHOLDERS = { alarmArns, nodeInstanceIds };
const PLACEHOLDER = /^\{([A-Za-z][A-Za-z0-9]*)\}$/;

/** A pattern with every placeholder filled in; a string that is no known placeholder is an error. */
async function fill(value, at = 'pattern') {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') {
    const m = PLACEHOLDER.exec(value);
    if (!m || !PLACEHOLDERS[m[1]])
      throw new Error(
        `event-rules.json: ${at} is "${value}": expected a list of values or one of {${Object.keys(PLACEHOLDERS).join('}, {')}}`,
      );
    return PLACEHOLDERS[m[1]]();
  }
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = await fill(v, `${at}.${k}`);
    return out;
  }
  throw new Error(`event-rules.json: ${at} is ${JSON.stringify(value)}`);
}

/** The rules invoking the function `key`, patterns filled in. */
async function rulesOf(key, defs = definitions()) {
  const rules = defs.rules.filter((r) => r.function === key);
  if (!rules.length) throw new Error(`event-rules.json has no rule invoking ${key}`);
  return Promise.all(rules.map(async (r) => ({ ...r, pattern: await fill(r.pattern, `${r.name}.pattern`) })));
}

/** Function key -> its serverless `events` (one eventBridge event per rule), for `events.<key>`. */
const events = Object.fromEntries(
  [...new Set(definitions().rules.map((r) => r.function))].map((key) => [
    key,
    async () => (await rulesOf(key)).map((r) => ({ eventBridge: { pattern: r.pattern } })),
  ]),
);

module.exports = { events, rulesOf, fill, PLACEHOLDERS };
