/**
 * Atomic saves, tested by really killing (SIGKILL) a child process that is saving a checkpoint
 * over an existing one: at every stage of the save, and from outside while it writes its shards.
 * Afterwards the checkpoint must load completely as either the previous or the new version, never
 * a mix, and the next save must succeed and clean up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadCheckpoint, saveCheckpoint, type SaveStage } from '../../src/checkpoint/index.js';
import { tmpDir } from '../helpers/cli.js';
import { config } from '../models/helpers.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'save_child.js');
const tmp = tmpDir('seg-kill-');
before(async () => {
  await tf.setBackend('cpu');
});
after(() => tmp.cleanup());

/** Run the child; `killWhen(line)` → true kills it with SIGKILL right after that stdout line. */
function runChild(args: string[], killWhen: (line: string) => boolean): Promise<{ killed: boolean; lines: string[]; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let killed = false;
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (!killed && killWhen(line)) {
          killed = child.kill('SIGKILL');
        }
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!killed && code !== 0) reject(new Error(`child failed (${code}): ${stderr}`));
      else resolve({ killed, lines, code });
    });
  });
}

/** Load `dir` and check every value equals one version; returns it. */
function loadedVersion(dir: string): number {
  const ck = loadCheckpoint(dir);
  try {
    const version = ck.state['version'] as number;
    for (const w of [...ck.weights, ...(ck.optimizer?.slots ?? [])]) {
      const v = w.tensor.dataSync();
      assert.ok(v.every((x) => x === version), `${w.name} holds values of another version than state.json (${version})`);
    }
    assert.deepEqual(ck.weights.map((w) => w.name), ['a', 'b']);
    return version;
  } finally {
    ck.dispose();
  }
}

const leftovers = (dir: string): string[] => fs.readdirSync(path.dirname(dir)).filter((f) => f !== path.basename(dir));

describe('a save killed at each stage leaves a complete checkpoint', () => {
  const expected: Array<[SaveStage, number]> = [
    ['temp-created', 1],
    ['file-written', 1],
    ['files-written', 1],
    ['old-moved-aside', 1], // recovered from the .seg-old sibling
    ['renamed', 2],
  ];
  for (const [stage, version] of expected) {
    test(`killed at ${stage}: version ${version} loads; the next save succeeds and cleans up`, async () => {
      const dir = path.join(tmp.dir, `stage-${stage}`, 'final');
      assert.equal((await runChild([dir, '1', '1', 'none'], () => false)).killed, false);
      assert.equal(loadedVersion(dir), 1);
      const run = await runChild([dir, '2', '1', stage], (line) => line === `AT ${stage}`);
      assert.ok(run.killed, `the child was killed (lines: ${run.lines.join(' | ')})`);
      assert.ok(!run.lines.includes('SAVED'));
      assert.equal(loadedVersion(dir), version);
      assert.ok(leftovers(dir).length > 0, 'the killed save left its temporary or old folder behind');
      // The next save (in this process) works and removes the leftovers.
      const t = tf.fill([4], 3);
      saveCheckpoint(dir, { weights: [{ name: 'a', tensor: t }, { name: 'b', tensor: t }], state: { version: 3 }, config: config() });
      t.dispose();
      assert.equal(loadedVersion(dir), 3);
      assert.deepEqual(leftovers(dir), []);
    });
  }
});

describe('a save killed from outside while it writes', () => {
  test('SIGKILL after the first of many shards: the previous checkpoint loads intact', async () => {
    const dir = path.join(tmp.dir, 'external', '10');
    await runChild([dir, '1', '1', 'none'], () => false);
    // 40 MiB: ten fsynced shards; the kill lands right after the first one is written.
    const run = await runChild([dir, '2', '40', 'announce'], (line) => line === 'STAGE file-written');
    assert.ok(run.killed);
    assert.ok(!run.lines.includes('STAGE renamed'), 'killed before the new version was published');
    assert.equal(loadedVersion(dir), 1);
    const tmpFolders = leftovers(dir).filter((f) => f.includes('.seg-tmp-'));
    assert.equal(tmpFolders.length, 1, 'the partial save stayed in its temporary folder');
    const partial = fs.readdirSync(path.join(path.dirname(dir), tmpFolders[0]!));
    assert.ok(!partial.includes('checkpoint.json'), 'the partial save never got an index');
  });
});
