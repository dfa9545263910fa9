'use strict';
/**
 * What a Lambda's code can reach, read from the source: the import graph of its handler file
 * (static, dynamic and require), the ports it uses through the AWS wiring (`deps.<port>` anywhere in
 * that graph, mapped to the adapter functions/lib/aws/deps.ts builds for it) and the adapter files it
 * imports itself. iam.js grants each Lambda's role what those adapters need; test/aws checks the roles
 * against the SDK commands the same adapters send.
 *
 * deps.ts imports every adapter, so the graph stops there: a handler gets an adapter through the
 * wiring only if its code uses that port.
 */
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('./naming');

const DEPS_FILE = path.join(ROOT, 'functions', 'lib', 'aws', 'deps.ts');
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
const EXTS = ['.ts', '.mts', '.js', '/index.ts', '/index.js'];

const rel = (file) => path.relative(ROOT, file).split(path.sep).join('/');

function resolveImport(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  for (const ext of ['', ...EXTS]) {
    const f = base + ext;
    if (fs.existsSync(f) && fs.statSync(f).isFile()) return f;
  }
  throw new Error(`${rel(from)}: cannot resolve import '${spec}'`);
}

/** Source without comments, so that a word in a comment is not read as code. */
const code = (file) =>
  fs
    .readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** Every file of the handler's import graph (deps.ts included but not followed). */
function importGraph(entry) {
  const seen = new Set();
  const stack = [entry];
  while (stack.length) {
    const f = stack.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    if (f === DEPS_FILE) continue;
    for (const m of code(f).matchAll(IMPORT)) {
      const dep = resolveImport(f, m[1]);
      if (dep) stack.push(dep);
    }
  }
  return seen;
}

/** deps.ts: port name -> adapter file, from `get <port>() { return (memo.<port> ??= new <Adapter>(` and its import. */
function portAdapters(depsFile = DEPS_FILE) {
  const text = code(depsFile);
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]+)\}\s*from\s*'(\.[^']+)'/g)) {
    for (const name of m[1].split(',').map((s) => s.replace(/^type\s+/, '').trim()))
      imports.set(name, resolveImport(depsFile, m[2]));
  }
  const out = {};
  for (const m of text.matchAll(/get\s+(\w+)\(\)\s*\{\s*return\s*\(memo\.\w+\s*\?\?=\s*new\s+(\w+)\(/g)) {
    const file = imports.get(m[2]);
    if (!file) throw new Error(`deps.ts: adapter ${m[2]} of port ${m[1]} is not imported from a local file`);
    out[m[1]] = file;
  }
  return out;
}

/** A file that sends AWS SDK commands: it imports an @aws-sdk client and builds `new <X>Command(`. */
const isAdapter = (file) => {
  const text = code(file);
  return /['"]@aws-sdk\//.test(text) && /\bnew\s+\w+Command\s*\(/.test(text);
};

/**
 * The handler file of `functions/x/y.handler` and what it reaches: { ports, adapters } where adapters
 * are repo-relative files (reached directly or through a used port).
 */
function handlerReach(handler, { depsFile = DEPS_FILE } = {}) {
  const base = path.join(ROOT, handler.replace(/\.[^./]+$/, ''));
  const entry = ['.ts', '.mts', '.js'].map((e) => base + e).find((f) => fs.existsSync(f));
  if (!entry) throw new Error(`handler ${handler}: no file ${rel(base)}.ts`);
  const files = importGraph(entry);
  const adapters = new Set([...files].filter((f) => f !== depsFile && isAdapter(f)).map(rel));
  const ports = new Set();
  if (files.has(depsFile)) {
    const byPort = portAdapters(depsFile);
    for (const f of files) {
      if (f === depsFile) continue;
      for (const m of code(f).matchAll(/\bdeps\.(\w+)\b/g)) if (m[1] in byPort) ports.add(m[1]);
    }
    for (const p of ports) adapters.add(rel(byPort[p]));
  }
  return { entry: rel(entry), ports: [...ports].sort(), adapters: [...adapters].sort() };
}

module.exports = { handlerReach, importGraph, portAdapters, isAdapter, code, DEPS_FILE };
