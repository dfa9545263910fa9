'use strict';
/**
 * `pgwarden digest` runs from a JavaScript bundle of functions/logdigest (esbuild), built on first use
 * and rebuilt when one of its sources changed, so that a digest does not compile TypeScript at every
 * start (tsx costs about 0.2 s a run). Returns undefined when no bundle can be had (esbuild missing, a
 * read-only checkout): the caller then runs the sources through tsx as every other command does.
 *
 * The bundle lives in node_modules/.cache/pgwarden-digest/, not in .esbuild/: serverless-esbuild
 * (`npm run package`) uses .esbuild/ as its work directory and deletes it when it is done, after
 * which every digest rebuilt the bundle first (esbuild's service started in the run: +0.1 to 0.3 s).
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const ENTRY = path.join(ROOT, 'functions', 'logdigest', 'cli.ts');
const OUT_DIR = path.join(ROOT, 'node_modules', '.cache', 'pgwarden-digest');
const OUT = path.join(OUT_DIR, 'cli.js');
const INPUTS = path.join(OUT_DIR, 'inputs.json');

/** The bundle is fresh when it is newer than every source it was built from. */
function fresh() {
  let built;
  try {
    built = fs.statSync(OUT).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(INPUTS, 'utf8'));
    return inputs.every((f) => fs.statSync(path.join(ROOT, f)).mtimeMs <= built);
  } catch {
    return false;
  }
}

function build() {
  const esbuild = require('esbuild');
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${OUT}.${process.pid}.tmp`;
  const r = esbuild.buildSync({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: tmp,
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'silent',
  });
  fs.writeFileSync(INPUTS, JSON.stringify(Object.keys(r.metafile.inputs)));
  // rename: a concurrent run never reads a half-written bundle
  fs.renameSync(tmp, OUT);
}

/** The bundled CLI module ({ main(argv) }), or undefined. */
function digestCli() {
  try {
    if (!fresh()) build();
    return require(OUT);
  } catch {
    return undefined;
  }
}

module.exports = { digestCli, OUT };
