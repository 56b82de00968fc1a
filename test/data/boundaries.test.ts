import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

/** Every module reachable from `file` through relative imports, and the packages they import. */
function reach(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const text = fs.readFileSync(file, 'utf8');
  const pkgs: string[] = [];
  seen.set(file, pkgs);
  for (const m of text.matchAll(/^import\s+(?!type\b)[^'"]*?from\s+'([^']+)';/gm)) {
    const spec = m[1] as string;
    if (spec.startsWith('.')) reach(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')), seen);
    else pkgs.push(spec);
  }
  return seen;
}

const SRC = path.join(REPO_ROOT, 'src');

test('src/data never imports tfjs, zod or the losses (it runs in worker threads); sharp only in image_io.ts', () => {
  const dataFiles = fs.readdirSync(path.join(SRC, 'data'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(SRC, 'data', f));
  for (const f of dataFiles) {
    for (const [mod, pkgs] of reach(f)) {
      assert.ok(mod.startsWith(path.join(SRC, 'data')) || mod.startsWith(path.join(SRC, 'util')), `${path.relative(SRC, f)} reaches ${path.relative(SRC, mod)} at run time`);
      for (const p of pkgs) assert.ok(!/tensorflow|^zod|js-yaml/.test(p), `${path.relative(SRC, mod)} imports ${p}`);
    }
  }
  const all = fs.readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const sharpUsers = all.filter((f) => /^import\s[^;]*from\s+'sharp';/m.test(fs.readFileSync(path.join(SRC, f), 'utf8')));
  assert.deepEqual(sharpUsers, [path.join('data', 'image_io.ts')]);
});
