/**
 * src/util/atomic.ts: file writes (sync and async) and directory replacement, including the async
 * variant `seg pretrained download` publishes its folder with. The kill-at-every-stage test of
 * directory replacement is test/checkpoint/kill.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OLD_SUFFIX, replaceDirAtomic, replaceDirAtomicAsync, resolveDir, writeFileAtomic, writeFileAtomicSync, type SaveStage } from '../../src/util/atomic.js';
import { tmpDir } from '../helpers/cli.js';

const complete = (d: string): boolean => fs.existsSync(path.join(d, 'done'));
const scratch = tmpDir('seg-util-atomic-');
after(() => scratch.cleanup());

/** A fresh folder for one test. */
function testDir(name: string): string {
  const dir = path.join(scratch.dir, name);
  fs.mkdirSync(dir);
  return dir;
}

test('writeFileAtomic and writeFileAtomicSync: create folders on request, replace, leave no temporary file', async () => {
  const dir = testDir('files');
  const a = path.join(dir, 'x', 'y', 'a.txt');
  await writeFileAtomic(a, 'one', { mkdir: true });
  await writeFileAtomic(a, new Uint8Array([0x74, 0x77, 0x6f]));
  assert.equal(fs.readFileSync(a, 'utf8'), 'two');
  const b = path.join(dir, 'z', 'b.txt');
  assert.throws(() => writeFileAtomicSync(b, 'no folder'), /ENOENT/);
  writeFileAtomicSync(b, 'three', { mkdir: true });
  writeFileAtomicSync(b, 'four');
  assert.equal(fs.readFileSync(b, 'utf8'), 'four');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'x', 'y')), ['a.txt']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'z')), ['b.txt']);
});

test('replaceDirAtomic and replaceDirAtomicAsync: same stages, result of fill, a failed fill keeps the previous folder', async () => {
  const dir = testDir('dirs');
  const target = path.join(dir, 'out');
  const syncStages: SaveStage[] = [];
  replaceDirAtomic(target, (tmp) => fs.writeFileSync(path.join(tmp, 'done'), 'v1'), complete, (s) => syncStages.push(s));
  const asyncStages: SaveStage[] = [];
  const value = await replaceDirAtomicAsync(
    target,
    async (tmp) => {
      await fs.promises.writeFile(path.join(tmp, 'done'), 'v2');
      return 42;
    },
    complete,
    (s) => asyncStages.push(s),
  );
  assert.equal(value, 42);
  assert.deepEqual(syncStages, ['temp-created', 'files-written', 'renamed', 'done']);
  assert.deepEqual(asyncStages, ['temp-created', 'files-written', 'old-moved-aside', 'renamed', 'done']);
  assert.equal(fs.readFileSync(path.join(target, 'done'), 'utf8'), 'v2');
  await assert.rejects(
    replaceDirAtomicAsync(target, async (tmp) => {
      fs.writeFileSync(path.join(tmp, 'done'), 'v3');
      throw new Error('download failed');
    }, complete),
    /download failed/,
  );
  assert.equal(fs.readFileSync(path.join(target, 'done'), 'utf8'), 'v2');
  assert.deepEqual(fs.readdirSync(dir), ['out']);
});

test('resolveDir finds the .seg-old copy a killed replacement left; the next replacement clears it', async () => {
  const dir = testDir('resolve');
  const target = path.join(dir, 'out');
  // Killed between moving the previous version aside and renaming the new one in.
  fs.mkdirSync(target + OLD_SUFFIX);
  fs.writeFileSync(path.join(target + OLD_SUFFIX, 'done'), 'old');
  fs.mkdirSync(`${target}.seg-tmp-1-dead`);
  assert.equal(resolveDir(target, complete), target + OLD_SUFFIX);
  await replaceDirAtomicAsync(target, async (tmp) => fs.writeFileSync(path.join(tmp, 'done'), 'new'), complete);
  assert.equal(resolveDir(target, complete), target);
  assert.deepEqual(fs.readdirSync(dir), ['out']);
  fs.rmSync(target, { recursive: true });
  assert.equal(resolveDir(target, complete), undefined);
});
