/**
 * The module boundaries of docs/architecture.md, checked on the sources: what each part may reach
 * at run time (static `import … from`, `export … from` and dynamic `import()`; `import type` is
 * erased and does not count), and which parts may touch the process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, runSeg, tmpDir } from '../helpers/cli.js';

const SRC = path.join(REPO_ROOT, 'src');
const rel = (f: string): string => path.relative(SRC, f);

/** Run-time import specifiers of a source file (with `dynamic`, `import()` too). */
function importsOf(text: string, dynamic = true): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'([^']+)';/gm)) out.push(m[1] as string);
  if (dynamic) for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1] as string);
  return out;
}

/** Every module reachable from `file` at run time, with the packages each imports. */
function reach(file: string, seen = new Map<string, string[]>(), dynamic = true): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const pkgs: string[] = [];
  seen.set(file, pkgs);
  for (const spec of importsOf(fs.readFileSync(file, 'utf8'), dynamic)) {
    if (spec.startsWith('.')) reach(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')), seen, dynamic);
    else pkgs.push(spec);
  }
  return seen;
}

const filesUnder = (dir: string): string[] =>
  fs
    .readdirSync(path.join(SRC, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(SRC, dir, f));

/** Fails naming the first module under `dirs` that reaches a package matching `banned`. */
function assertNoPackage(dirs: string[], banned: RegExp, why: string): void {
  for (const f of dirs.flatMap(filesUnder)) {
    for (const [mod, pkgs] of reach(f)) {
      const bad = pkgs.find((p) => banned.test(p));
      assert.equal(bad, undefined, `${rel(f)} reaches ${rel(mod)}, which imports ${bad} (${why})`);
    }
  }
}

test('config and data know no tfjs (seg --help and seg config load none; data runs in worker threads)', () => {
  assertNoPackage(['config', 'data'], /tensorflow/, 'config and data must not load tfjs');
});

test('seg starts without tfjs: the CLI loads it only when a command needs a model (import())', () => {
  for (const [mod, pkgs] of reach(path.join(SRC, 'cli', 'main.ts'), new Map(), false)) {
    const tfjs = pkgs.find((p) => /tensorflow/.test(p));
    assert.equal(tfjs, undefined, `cli/main.ts reaches ${rel(mod)} statically, which imports ${tfjs} (seg --help and seg config would load tfjs)`);
  }
});

test('data imports neither zod nor js-yaml, and reaches only data and util', () => {
  assertNoPackage(['data'], /^zod$|^js-yaml$/, 'data runs in worker threads');
  for (const f of filesUnder('data')) {
    for (const mod of reach(f).keys()) assert.ok(/^(data|util)\//.test(rel(mod)), `${rel(f)} reaches ${rel(mod)} at run time`);
  }
});

test('models, losses and metrics know no files, images or config parsers', () => {
  assertNoPackage(['models', 'losses', 'metrics'], /^(node:)?fs(\/promises)?$|^sharp$|^js-yaml$|^zod$/, 'they compute on tensors and arrays only');
});

test('only src/cli touches argv, stdout/stderr, exit codes and signals; nothing prints with console', () => {
  const pattern = /process\.(argv|exit\b|exitCode|stdout|stderr|on\(\s*'SIG)|console\.\w+\(/;
  for (const f of filesUnder('.')) {
    if (rel(f).startsWith(`cli${path.sep}`)) continue;
    const line = fs.readFileSync(f, 'utf8').split('\n').findIndex((l) => pattern.test(l) && !/^\s*(\*|\/\/)/.test(l));
    assert.equal(line, -1, `${rel(f)}:${line + 1} touches the process (only src/cli may)`);
  }
});

test('sharp is imported in src/data/image_io.ts only', () => {
  const users = filesUnder('.').filter((f) => importsOf(fs.readFileSync(f, 'utf8')).includes('sharp'));
  assert.deepEqual(users.map(rel), [path.join('data', 'image_io.ts')]);
});

test('the checks see what they must: export-from and import() count, import type does not', () => {
  assert.deepEqual(importsOf("export { a } from './x.js';\nconst m = await import('./y.js');\nimport type { T } from './z.js';\nimport * as tf from '@tensorflow/tfjs-core';\n"), ['./x.js', '@tensorflow/tfjs-core', './y.js']);
});

test('seg --help and seg config run with every @tensorflow package unresolvable (a resolve hook refuses them)', async () => {
  const tmp = tmpDir();
  try {
    fs.writeFileSync(
      path.join(tmp.dir, 'hooks.mjs'),
      "export async function resolve(spec, ctx, next) {\n  if (spec.startsWith('@tensorflow/')) throw new Error(`tfjs made unresolvable: ${spec}`);\n  return next(spec, ctx);\n}\n",
    );
    fs.writeFileSync(path.join(tmp.dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const env = { NODE_OPTIONS: `--import=${path.join(tmp.dir, 'register.mjs')}` };
    const help = await runSeg(['--help'], { env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /seg train/);
    const config = await runSeg(['config', '--cfg', 'configs/quickstart_roads.yaml'], { env });
    assert.equal(config.code, 0, config.stderr);
    assert.match(config.stdout, /^  LOSS_STAGES: \[\{BEGIN_EPOCH: 5, LOSS: \[lovasz_hinge_loss\]/m);
    // The control: the hook does stop an import of tfjs in the same setting.
    const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('@tensorflow/tfjs-core');"], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.notEqual(probe.status, 0);
    assert.match(probe.stderr, /tfjs made unresolvable: @tensorflow\/tfjs-core/);
  } finally {
    tmp.cleanup();
  }
});
