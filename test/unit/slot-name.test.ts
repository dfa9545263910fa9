/**
 * The replication slot a standby streams through is named the same by the steps (TypeScript) and the
 * node scripts (lib.sh's slot_name, and the SQL promote.sh runs): every place that spells the name is
 * listed here and checked against lib.sh, and a new one fails until it is.
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

/** Every file that spells the slot name (its prefix pgw_) itself. */
const SPELLINGS = [
  'functions/lib/sql-node.ts',
  'functions/planned/common.ts',
  'infra/node/lib.sh',
  'infra/node/promote.sh',
];

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

test("promote.sh's SQL names the slots it creates as lib.sh does", () => {
  // 'pgw_' || regexp_replace(n, '<class>', '_', 'g'): the same prefix and character class as slot_name.
  const sql = /'(pgw_)' \|\| regexp_replace\(\w+, '(\[[^']+\])', '_', 'g'\)/.exec(readFileSync(PROMOTE, 'utf8'));
  expect(sql).not.toBeNull();
  const [, prefix, cls] = sql!;
  const lib = /^slot_name\(\) \{ echo "(\w+)\$\{1\/\/(\[[^\]]+\])\/_\}"; \}$/m.exec(readFileSync(LIB, 'utf8'));
  expect(lib).not.toBeNull();
  expect([prefix, cls]).toEqual([lib![1], lib![2]]);
  for (const node of NODES) expect(prefix + node.replace(new RegExp(cls, 'g'), '_')).toBe(libSlotName(node));
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
