/**
 * The public API is on purpose: `src/index.ts` exports exactly the functions and values the
 * README's "Library API" table lists, and importing it prints nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as api from '../../src/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** The names in the "functions and values" column of the README's Library API table. */
function documented(): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = /\n## Library API\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const rows = section.split('\n').filter((l) => /^\| [^-]/.test(l) && !l.startsWith('| area'));
  assert.ok(rows.length > 0, 'the README has a Library API table');
  return rows.flatMap((r) => [...(r.split('|')[2] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1] as string));
}

test('src/index.ts exports exactly what the README documents', () => {
  assert.deepEqual(Object.keys(api).sort(), documented().sort());
});

test('importing seg and computing before initBackend prints no tfjs banner', () => {
  const script = `const seg = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'index.js'))});
const tf = await import('@tensorflow/tfjs-core');
const loss = seg.softmaxLoss(tf.zeros([1, 2, 2, 3]), tf.zeros([1, 2, 2], 'int32'));
process.stdout.write(String(loss.dataSync()[0]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(Number(r.stdout).toFixed(4), Math.log(3).toFixed(4));
});
