/** The compiled CloudFormation template: types, packaging, and walking it. */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
  DependsOn?: string | string[];
  Condition?: string;
  [k: string]: Json | undefined;
}
export interface Template {
  Parameters?: Record<string, Json>;
  Conditions?: Record<string, Json>;
  Resources: Record<string, Resource>;
  Outputs?: Record<string, Json>;
}

export const ROOT = path.resolve(__dirname, '..', '..');

export interface Packaged {
  template: Template;
  seconds: number;
  /** Handler files serverless.yml names that do not exist in the tree (stubbed in a copy to package). */
  missingHandlers: string[];
  /** What the run left in the temp directory it was given (TMPDIR, a fresh folder): should be nothing. */
  tmpLeftovers: string[];
}

/** Handler files the stack needs: `functions/x/y.handler` -> functions/x/y.ts */
export function handlerFiles(): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const {stepFunctions}=require('./infra/aws/functions');
       const fixed=require('fs').readFileSync('serverless.yml','utf8').match(/handler: (\\S+)/g).map(h=>h.slice(9));
       console.log(JSON.stringify([...stepFunctions().map(f=>f.handler),...fixed]));`,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return (JSON.parse(out) as string[]).map((h) => h.replace(/\.handler$/, ''));
}

const exists = (base: string) => ['.ts', '.js', '.mts'].some((ext) => fs.existsSync(path.join(ROOT, base + ext)));

/**
 * `serverless package` with no AWS credentials and CI=true, output into a temp dir. When handler
 * files are still missing, the tree's own files are packaged from a copy with stubs in their place.
 */
export function packageStack(): Packaged {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-package-'));
  const missingHandlers = handlerFiles().filter((h) => !exists(h));
  let cwd = ROOT;
  if (missingHandlers.length) {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-tree-'));
    for (const f of [
      'serverless.yml',
      'package.json',
      'tsconfig.json',
      'functions',
      'app',
      'statemachines',
      'infra/aws',
      'infra/node',
    ]) {
      if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(cwd, f), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(cwd, 'node_modules'));
    for (const h of missingHandlers) {
      fs.mkdirSync(path.dirname(path.join(cwd, h)), { recursive: true });
      fs.writeFileSync(path.join(cwd, `${h}.ts`), 'export const handler = async () => undefined;\n');
    }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-tmp-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TMPDIR: tmp,
    CI: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  const started = process.hrtime.bigint();
  const res = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--package', out], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  try {
    if (res.status !== 0) {
      throw new Error(`serverless package failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
    }
    const template = JSON.parse(
      fs.readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
    return { template, seconds, missingHandlers, tmpLeftovers: fs.readdirSync(tmp) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    // The package (about 40 zips) and the stubbed tree are only read here: nothing is left in /tmp.
    fs.rmSync(out, { recursive: true, force: true });
    if (cwd !== ROOT) fs.rmSync(cwd, { recursive: true, force: true });
  }
}

export const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every node of a JSON value with its path. */
export function* walk(v: Json | undefined, at: string[] = []): Generator<[Json, string[]]> {
  if (v === undefined) return;
  yield [v, at];
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* walk(v[i], [...at, String(i)]);
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) yield* walk(x, [...at, k]);
}

export const byType = (t: Template, type: string): [string, Resource][] =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
