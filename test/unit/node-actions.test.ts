/**
 * The node actions are defined once (functions/lib/node-actions.json) and are exactly the scripts of
 * infra/node a workflow runs on an instance: every action has its script, and every other script there
 * is listed below with the reason it is not an action.
 */
import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_ACTIONS } from '../../functions/lib/ports';

const NODE_SCRIPTS_DIR = join(__dirname, '../../infra/node');
const naming = require('../../infra/aws/naming') as { NODE_ACTIONS: string[]; NODE_SCRIPTS_DIR: string };
const actions = require('../../infra/aws/actions') as {
  build(cluster: string): { Resources: Record<string, { Properties: { Name: string; Content: unknown } }> };
};

/** Scripts of infra/node that no workflow step runs through NodeCommands, and who runs them instead. */
const NOT_ACTIONS: Record<string, string> = {
  'lib.sh': 'sourced by every script',
  'bootstrap-primary.sh': "the first primary: the node's user data, lab up",
  'bootstrap-standby.sh': "a new standby: the node's user data, lab up",
  'configure-pgpool.sh': "the pgpool instance's user data, lab up, and pgpool-reload.sh",
  'pgpool-start.sh': "the pgpool instance's user data, lab up and the soak",
  'pgpool-stop.sh': 'lab down',
  'pgpool-failover-hook.sh': "pgpool-II's failover_command (configure-pgpool.sh)",
  'tls-certs.sh': 'the CA and server certificates: the user data, lab create',
};

const scripts = readdirSync(NODE_SCRIPTS_DIR)
  .filter((f) => f.endsWith('.sh'))
  .sort();

describe('node actions', () => {
  it('are defined once: ports.ts and infra/aws/naming.js read the same list', () => {
    expect(NODE_ACTIONS.length).toBeGreaterThan(0);
    expect(naming.NODE_ACTIONS).toEqual(NODE_ACTIONS);
    expect(naming.NODE_SCRIPTS_DIR).toBe(NODE_SCRIPTS_DIR);
  });

  it('each have an executable infra/node/<action>.sh', () => {
    const missing = NODE_ACTIONS.filter((a) => !scripts.includes(`${a}.sh`));
    expect(missing).toEqual([]);
    for (const a of NODE_ACTIONS) accessSync(join(NODE_SCRIPTS_DIR, `${a}.sh`), constants.X_OK);
  });

  it('are every script of infra/node except the ones listed as not actions', () => {
    const unlisted = scripts.filter((f) => !NODE_ACTIONS.includes(f.slice(0, -3) as never) && !(f in NOT_ACTIONS));
    expect(unlisted).toEqual([]);
    // The list stays true: each entry is a script, and none is an action as well.
    expect(Object.keys(NOT_ACTIONS).filter((f) => !scripts.includes(f))).toEqual([]);
    expect(NODE_ACTIONS.filter((a) => `${a}.sh` in NOT_ACTIONS)).toEqual([]);
  });

  it('each get one SSM document running their script', () => {
    const docs = Object.values(actions.build('c').Resources);
    expect(docs.map((d) => d.Properties.Name)).toEqual(NODE_ACTIONS.map((a) => `pgwarden-c-${a}`));
    for (const [i, a] of NODE_ACTIONS.entries())
      expect(JSON.stringify(docs[i].Properties.Content)).toContain(`exec /opt/pgwarden/node/${a}.sh`);
  });
});
