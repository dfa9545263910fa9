/**
 * The replication slot a standby streams through is named once per language: TypeScript's slotName
 * (functions/lib/sql-node.ts, re-exported by planned/common.ts) and the node scripts' slot_name
 * (infra/node/lib.sh, which promote.sh uses too). They agree, and a new spelling fails until it is
 * listed here.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { slotName as plannedSlotName } from '../../functions/planned/common';
import { slotName as sqlNodeSlotName } from '../../functions/lib/sql-node';

const ROOT = join(__dirname, '../..');
const LIB = join(ROOT, 'infra/node/lib.sh');
const PROMOTE = join(ROOT, 'infra/node/promote.sh');
const NODES = ['pg1', 'pg-10', 'node.b', 'db_3', 'x y', 'a,b', "o'k"];

/** Every file that spells the slot name (its prefix pgw_) itself: once per language. */
const SPELLINGS = ['functions/lib/sql-node.ts', 'infra/node/lib.sh'];

// lib.sh's one-line definition, without sourcing the rest of it (it expects a node's environment).
const libSlotName = (node: string) =>
  execFileSync('bash', ['-c', 'eval "$(sed -n "/^slot_name()/p" "$0")"; slot_name "$1"', LIB, node], {
    encoding: 'utf8',
  }).trim();

test.each(NODES)('slot of %p: lib.sh slot_name and the TypeScript slotName agree', (node) => {
  const sh = libSlotName(node);
  expect(sh).toMatch(/^pgw_[a-zA-Z0-9_]+$/);
  expect(plannedSlotName(node)).toBe(sh);
  expect(sqlNodeSlotName(node)).toBe(sh);
});

test('promote.sh names the slots it creates with lib.sh slot_name', () => {
  const sh = readFileSync(PROMOTE, 'utf8');
  // Each standby of SLOTS through slot_name, into the list the SQL creates as it is.
  expect(sh).toMatch(/slots\+="\$\{slots:\+,\}\$\(slot_name "\$n"\)"/);
  expect(sh).toMatch(/PGW_SLOTS="\$slots"/);
  expect(sh).toMatch(/pg_create_physical_replication_slot\(n, true\)/);
});

test('nothing else spells a slot name: the steps and scripts use slotName / slot_name', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? files(p) : /\.(ts|js|sh|json|sql)$/.test(n) ? [p] : [];
    });
  const spelling = [
    ...files(join(ROOT, 'functions')),
    ...files(join(ROOT, 'infra/node')),
    ...files(join(ROOT, 'infra/local')),
  ]
    .filter((f) => /['"`]pgw_/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(ROOT, f))
    .sort();
  expect(spelling).toEqual(SPELLINGS);
});
