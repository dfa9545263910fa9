/** The replication slot a standby streams through is named the same by the steps (TypeScript) and the node scripts (lib.sh). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { slotName } from '../../functions/planned/common';

const LIB = join(__dirname, '../../infra/node/lib.sh');

test.each(['pg1', 'pg-10', 'node.b', 'db_3', 'x y'])('slot of %p: lib.sh slot_name and slotName agree', (node) => {
  // lib.sh's one-line definition, without sourcing the rest of it (it expects a node's environment).
  const sh = execFileSync('bash', ['-c', 'eval "$(sed -n "/^slot_name()/p" "$0")"; slot_name "$1"', LIB, node], {
    encoding: 'utf8',
  }).trim();
  expect(sh).toBe(slotName(node));
  expect(sh).toMatch(/^pgw_[a-zA-Z0-9_]+$/);
});
