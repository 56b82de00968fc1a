import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataLoader, defaultWorkers, epochOrder, evalBatchSize, evalBatches, stepsPerEpoch, trainBatches, type Batch } from '../../src/data/loader.js';
import { readSplit } from '../../src/data/file_list.js';
import { SegError } from '../../src/util/errors.js';
import { tmpDir } from '../helpers/cli.js';
import { blockDataset, blockPattern, makeConfig, writeRaw } from './fixtures.js';
import type { SegConfig } from '../../src/config/schema.js';

function config(dir: string, over: Record<string, unknown> = {}): SegConfig {
  return makeConfig({
    BATCH_SIZE: 2,
    TRAIN_CROP_SIZE: [64, 48],
    EVAL_CROP_SIZE: [160, 120],
    MEAN: [0.5, 0.5, 0.5],
    STD: [0.5, 0.5, 0.5],
    DATASET: { DATA_DIR: dir, TRAIN_FILE_LIST: path.join(dir, 'train.txt'), VAL_FILE_LIST: path.join(dir, 'train.txt'), TEST_FILE_LIST: path.join(dir, 'test.txt'), NUM_CLASSES: 2, SEPARATOR: '|' },
    AUG: { AUG_METHOD: 'stepscaling', MIN_SCALE_FACTOR: 0.5, MAX_SCALE_FACTOR: 1.5, SCALE_STEP_SIZE: 0.25, FLIP: true, MIRROR: true },
    ...over,
  } as never);
}

async function collect<T>(g: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const b of g) out.push(b);
  return out;
}

const digest = (b: Batch): string => `${b.entries.map((e) => e.line).join(',')}|${b.images.reduce((a, v, i) => a + v * ((i % 97) + 1), 0).toFixed(3)}|${b.labels.reduce((a, v, i) => a + v * ((i % 89) + 1), 0)}`;

test('train batches: NHWC shapes, drop_last, normalised pixels, int32 labels with IGNORE_INDEX padding', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    await blockDataset(dir, 5);
    const cfg = config(dir);
    assert.equal(stepsPerEpoch(cfg, 5), 2);
    const batches = await collect(trainBatches(cfg, { seed: 7, epoch: 1 }));
    assert.equal(batches.length, 2, 'drop_last: 5 samples, batch 2');
    const seen = new Set<number>();
    for (const b of batches) {
      assert.deepEqual([b.n, b.height, b.width, b.channels], [2, 48, 64, 3]);
      assert.equal(b.images.length, 2 * 48 * 64 * 3);
      assert.ok(b.labels instanceof Int32Array);
      assert.equal(b.labels.length, 2 * 48 * 64);
      assert.equal(b.entries.length, 2);
      for (const e of b.entries) seen.add(e.line);
      for (const v of b.labels) assert.ok(v === 0 || v === 1 || v === 255);
      for (const v of b.images) assert.ok(v >= -1 && v <= 1);
      // Padding pixels (label 255 in a bottom/right band) are PADDING_VALUE = MEAN·255 → exactly 0 after normalisation.
      for (let i = 0; i < b.labels.length; i++) if (b.labels[i] === 255) assert.ok(Math.abs(b.images[i * 3] as number) < 0.01);
    }
    assert.equal(seen.size, 4, 'four distinct samples per epoch');
  } finally {
    cleanup();
  }
});

test('order and augmentation depend only on (seed, epoch, position): resume, workers and epochs', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    await blockDataset(dir, 8);
    const cfg = config(dir);
    const full = (await collect(trainBatches(cfg, { seed: 3, epoch: 2 }))).map(digest);
    assert.equal(full.length, 4);
    const again = (await collect(trainBatches(cfg, { seed: 3, epoch: 2 }))).map(digest);
    assert.deepEqual(again, full, 'same seed, same batches');
    const resumed = (await collect(trainBatches(cfg, { seed: 3, epoch: 2, startStep: 2 }))).map(digest);
    assert.deepEqual(resumed, full.slice(2), 'resuming at step 2 sees the remaining batches of the uninterrupted epoch');
    const workers = (await collect(trainBatches(cfg, { seed: 3, epoch: 2, workers: 2 }))).map(digest);
    assert.deepEqual(workers, full, 'worker threads give the same batches as the main thread');
    const other = (await collect(trainBatches(cfg, { seed: 3, epoch: 3 }))).map(digest);
    assert.notDeepEqual(other, full, 'another epoch, another order and augmentation');
    assert.notDeepEqual(epochOrder(3, 2, 8), epochOrder(3, 3, 8));
    assert.deepEqual([...epochOrder(3, 2, 8)].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  } finally {
    cleanup();
  }
});

test('eval batches: list order, last partial batch kept, padded to EVAL_CROP_SIZE with valid region and originals', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    await blockDataset(dir, 5);
    fs.writeFileSync(path.join(dir, 'test.txt'), 'images/0.png\nimages/1.png|labels/1.png\n');
    // Eval batches hold 3 × BATCH_SIZE training crops of pixels: 3 · 2 · 80² / (160 · 120) = 2 images.
    const cfg = config(dir, { TRAIN_CROP_SIZE: [80, 80] });
    assert.equal(evalBatchSize(cfg), 2);
    assert.equal(evalBatchSize(config(dir, { TRAIN_CROP_SIZE: [64, 48] })), 1, 'at least one image');
    assert.equal(evalBatchSize(config(dir, { TRAIN_CROP_SIZE: [160, 120], BATCH_SIZE: 8 })), 24);
    const loader = new DataLoader(cfg, { workers: 1 });
    try {
      const val = await collect(loader.evalBatches('val', { keepOriginal: true }));
      assert.deepEqual(val.map((b) => b.n), [2, 2, 1]);
      const s0 = val[0]?.samples[0];
      assert.ok(s0);
      assert.deepEqual([s0.validWidth, s0.validHeight, s0.originalWidth, s0.originalHeight], [90, 70, 90, 70]); // stepscaling: no resize at eval
      assert.equal(s0.original?.width, 90);
      assert.equal(s0.original?.data.length, 90 * 70 * 3);
      const b0 = val[0] as Batch;
      assert.deepEqual([b0.height, b0.width], [120, 160]);
      assert.equal(b0.labels[0 * 160 + 100], 255, 'right of the valid region');
      assert.equal(b0.labels[80 * 160 + 10], 255, 'below the valid region');
      // The valid region holds the exact labels.
      const { label } = blockPattern(90, 70, 12, 2);
      for (let y = 0; y < 70; y++) for (let x = 0; x < 90; x++) assert.equal(b0.labels[y * 160 + x], label[y * 90 + x]);
      const test = await collect(loader.evalBatches('test'));
      assert.equal(test.length, 1);
      assert.deepEqual(test[0]?.samples.map((s) => s.hasLabel), [false, true]);
      assert.ok(test[0]?.labels.slice(0, 160 * 120).every((v) => v === 255), 'an image-only line has no labelled pixel');
    } finally {
      await loader.close();
    }
    assert.equal((await collect(evalBatches(cfg, 'val', { limit: 3 }))).reduce((a, b) => a + b.n, 0), 3);
  } finally {
    cleanup();
  }
});

async function expectBatchError(cfg: SegConfig, workers: number, pattern: RegExp, listLine: number): Promise<void> {
  try {
    await collect(evalBatches(cfg, 'val', { workers }));
  } catch (e) {
    assert.ok(e instanceof SegError, `expected a SegError, got ${String(e)}`);
    assert.equal(e.kind, 'data');
    assert.match(e.message, pattern);
    assert.equal(e.line, listLine);
    return;
  }
  assert.fail(`expected ${pattern}`);
}

test('bad samples are data errors naming the file and list line, on the main thread and through worker threads', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const lines = await blockDataset(dir, 2);
    const list = path.join(dir, 'train.txt');
    const cfg = config(dir);
    // Size mismatch.
    await writeRaw(path.join(dir, 'labels', 'small.png'), new Uint8Array(20 * 10), 20, 10, 1);
    fs.writeFileSync(list, `${lines[0]}\nimages/1.png|labels/small.png\n`);
    for (const w of [0, 2]) await expectBatchError(cfg, w, /label .*small\.png is 20x10 but its image .*1\.png is 97x73 \(.*train\.txt:2\)/, 2);
    // Out-of-range value.
    const bad = new Uint8Array(97 * 73).fill(1);
    bad[5] = 7;
    await writeRaw(path.join(dir, 'labels', 'seven.png'), bad, 97, 73, 1);
    fs.writeFileSync(list, `images/1.png|labels/seven.png\n${lines[0]}\n`);
    for (const w of [0, 2]) await expectBatchError(cfg, w, /seven\.png \(.*train\.txt:1\) has value\(s\) 7 outside \[0, 1\]/, 1);
    // Missing file.
    fs.writeFileSync(list, `${lines[0]}\n${lines[1]}\nimages/none.jpg|labels/0.png\n`);
    for (const w of [0, 2]) await expectBatchError(cfg, w, /none\.jpg \(.*train\.txt:3\): no such file/, 3);
    // Truncated JPEG.
    const { rgb } = blockPattern(97, 73, 5, 2);
    await writeRaw(path.join(dir, 'images', 'full.jpg'), rgb, 97, 73, 3);
    const bytes = fs.readFileSync(path.join(dir, 'images', 'full.jpg'));
    fs.writeFileSync(path.join(dir, 'images', 'cut.jpg'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    fs.writeFileSync(list, `images/cut.jpg|labels/1.png\n`);
    for (const w of [0, 1]) await expectBatchError(cfg, w, /cut\.jpg \(.*train\.txt:1\): truncated or corrupt/, 1);
    // A line without a label in a train/val list.
    fs.writeFileSync(list, `${lines[0]}\nimages/1.png\n`);
    assert.throws(() => readSplit(cfg, 'val'), (e: unknown) => e instanceof SegError && e.kind === 'data' && /train\.txt:2: expected image\|label, got 1 part/.test(e.message));
    // Fewer samples than BATCH_SIZE.
    fs.writeFileSync(list, `${lines[0]}\n`);
    await assert.rejects(collect(trainBatches(cfg, { seed: 1, epoch: 1 })), (e: unknown) => e instanceof SegError && /fewer than BATCH_SIZE 2/.test(e.message));
    // An image larger than EVAL_CROP_SIZE.
    const small = config(dir, { EVAL_CROP_SIZE: [64, 64] });
    fs.writeFileSync(list, `${lines[0]}\n`);
    await assert.rejects(collect(evalBatches(small, 'val')), (e: unknown) => e instanceof SegError && /is 90x70, resized to 90x70, larger than EVAL_CROP_SIZE \(64, 64\)/.test(e.message));
  } finally {
    cleanup();
  }
});

test('an aborted signal ends the batches early; defaultWorkers caps NUM_WORKERS by the CPUs', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    await blockDataset(dir, 8);
    const cfg = config(dir);
    const ac = new AbortController();
    let n = 0;
    for await (const _b of trainBatches(cfg, { seed: 1, epoch: 1, signal: ac.signal, workers: 1 })) {
      n++;
      ac.abort();
    }
    assert.equal(n, 1);
    assert.equal(defaultWorkers(cfg, false), 0);
    assert.ok(defaultWorkers(cfg, true) >= 1 && defaultWorkers(cfg, true) <= cfg.DATALOADER.NUM_WORKERS);
  } finally {
    cleanup();
  }
});

test('EXIF orientation: an image and its label saved with the same orientation line up; a label drawn on the stored pixels gets a hint', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { rgb, label } = blockPattern(40, 24, 6, 2);
    await writeRaw(path.join(dir, 'images', 'r.png'), rgb, 40, 24, 3, { orientation: 6 });
    await writeRaw(path.join(dir, 'labels', 'r.png'), label, 40, 24, 1, { orientation: 6 });
    await writeRaw(path.join(dir, 'labels', 'plain.png'), label, 40, 24, 1);
    fs.writeFileSync(path.join(dir, 'train.txt'), 'images/r.png|labels/r.png\n');
    const cfg = config(dir, { BATCH_SIZE: 1, EVAL_CROP_SIZE: [32, 48] });
    const [b] = await collect(evalBatches(cfg, 'val', { keepOriginal: true }));
    assert.ok(b);
    const s = b.samples[0];
    assert.deepEqual([s?.originalWidth, s?.originalHeight], [24, 40], 'displayed size: rotated 90°');
    // Orientation 6 = rotate 90° clockwise: displayed (x, y) comes from stored (y, H-1-x), H = 24.
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 24; x++) {
        const si = (23 - x) * 40 + y;
        assert.equal(b.labels[y * 32 + x], label[si]);
        assert.equal(s?.original?.data[(y * 24 + x) * 3], rgb[si * 3], 'image rotated the same way');
      }
    }
    fs.writeFileSync(path.join(dir, 'train.txt'), 'images/r.png|labels/plain.png\n');
    await assert.rejects(collect(evalBatches(cfg, 'val')), (e: unknown) => e instanceof SegError && /is 40x24 but its image .* is 24x40/.test(e.message) && /EXIF orientation 6/.test(e.hint ?? ''));
  } finally {
    cleanup();
  }
});
