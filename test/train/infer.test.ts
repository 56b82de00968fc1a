/**
 * Evaluation at any size (TEST.MODE whole/slide, TEST.SCALES, TEST.FLIP): the sliding-window grid,
 * windows equal to direct computation, one window equal to whole-image inference, windows batched,
 * no tensors left behind; and `seg eval` / `seg vis` as real processes on a 1024² image that plain
 * (padded) evaluation refuses.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/index.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel, type SegModel } from '../../src/models/build.js';
import { inferOptions, inferProbabilities, probabilities, windowStarts, type InferOptions } from '../../src/train/infer.js';
import { Rng } from '../../src/util/rng.js';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

const cfg = ConfigSchema.parse({
  TRAIN_CROP_SIZE: [32, 32],
  EVAL_CROP_SIZE: [32, 32],
  BATCH_SIZE: 3,
  DATASET: { NUM_CLASSES: 3 },
  MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 0.25, ENCODER_WITH_ASPP: false, ENABLE_DECODER: false } },
});

function image(h: number, w: number, seed = 3): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: h * w * 3 }, () => rng.uniform(-1, 1)), [1, h, w, 3]);
}

const opts = (o: Partial<InferOptions>): InferOptions => ({ ...inferOptions(cfg), ...o });
const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

test('the window grid covers the side, the last window ends at the border, and small sides get one window', () => {
  assert.deepEqual(windowStarts(100, 40, 30), [0, 30, 60]);
  assert.deepEqual(windowStarts(1024, 256, 171), [0, 171, 342, 513, 684, 768]);
  assert.deepEqual(windowStarts(20, 40, 30), [0]);
  for (const [size, win, stride] of [[1024, 256, 171], [97, 32, 21], [64, 64, 64]] as const) {
    const s = windowStarts(size, win, stride);
    assert.equal((s.at(-1) as number) + Math.min(win, size), size, `${size}/${win}/${stride} ends at the border`);
    s.forEach((v, i) => i > 0 && assert.ok(v - (s[i - 1] as number) <= stride, 'no gap'));
  }
});

test('slide: one window is whole-image inference; overlapping windows average the logits of each window', () => {
  const model = buildModel(cfg, { seed: 5 });
  try {
    const x = image(40, 56);
    const whole = inferProbabilities(model, x, opts({ mode: 'whole' }));
    const one = inferProbabilities(model, x, opts({ mode: 'slide', window: [64, 64], stride: [64, 64] }));
    assert.equal(maxDiff(whole, one), 0, 'a window as large as the image is the image');

    // Windows 32×32 every 24 (2 × 3 of them): the reference averages each window's logits by hand.
    const slid = inferProbabilities(model, x, opts({ mode: 'slide', window: [32, 32], stride: [24, 24] }));
    const expected = tf.tidy(() => {
      const sum = tf.buffer([1, 40, 56, 3]);
      const count = tf.buffer([40, 56]);
      for (const y0 of windowStarts(40, 32, 24)) {
        for (const x0 of windowStarts(56, 32, 24)) {
          const l = model.apply(tf.slice(x, [0, y0, x0, 0], [1, 32, 32, 3]) as tf.Tensor4D, { training: false }).arraySync()[0] as number[][][];
          for (let y = 0; y < 32; y++) for (let xx = 0; xx < 32; xx++) {
            count.set(count.get(y0 + y, x0 + xx) + 1, y0 + y, x0 + xx);
            for (let k = 0; k < 3; k++) sum.set(sum.get(0, y0 + y, x0 + xx, k) + (l[y]?.[xx]?.[k] as number), 0, y0 + y, x0 + xx, k);
          }
        }
      }
      const avg = tf.div(sum.toTensor(), tf.reshape(count.toTensor(), [1, 40, 56, 1])) as tf.Tensor4D;
      return probabilities(avg);
    });
    assert.ok(maxDiff(slid, expected) < 1e-6, `averaged windows: ${maxDiff(slid, expected)}`);
    assert.ok(maxDiff(slid, whole) > 0, 'windows see less context than the whole image');
    tf.dispose([x, whole, one, slid, expected]);
  } finally {
    model.dispose();
  }
});

test('slide runs at most BATCH_SIZE windows per forward pass; scales and flip average probabilities; nothing is left behind', () => {
  const model = buildModel(cfg, { seed: 5 });
  const batches: number[] = [];
  const spy: SegModel = Object.assign(Object.create(model) as SegModel, {
    apply: (x: tf.Tensor4D, o: { training: boolean }) => {
      batches.push(x.shape[0]);
      return model.apply(x, o);
    },
  });
  try {
    const x = image(70, 90);
    const before = tf.memory().numTensors;
    const p = inferProbabilities(spy, x, opts({ mode: 'slide', window: [32, 32], stride: [20, 20], batch: 5 }));
    assert.equal(windowStarts(70, 32, 20).length * windowStarts(90, 32, 20).length, 12);
    assert.deepEqual(batches, [5, 5, 2], '12 windows, 5 at a time');
    p.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');

    const flipped = inferProbabilities(model, x, opts({ mode: 'whole', flip: true }));
    assert.deepEqual(flipped.shape, [1, 70, 90, 3]);
    const byHand = tf.tidy(() => tf.div(tf.add(probabilities(model.apply(x, { training: false })), tf.reverse(probabilities(model.apply(tf.reverse(x, 2) as tf.Tensor4D, { training: false })), 2)), 2));
    assert.ok(maxDiff(flipped, byHand) < 1e-6);
    const scaled = inferProbabilities(model, x, opts({ mode: 'whole', scales: [0.5, 1.0] }));
    assert.deepEqual(scaled.shape, [1, 70, 90, 3], 'probabilities at the input size');
    const sums = tf.tidy(() => tf.sum(scaled, 3));
    assert.ok(maxDiff(sums, tf.onesLike(sums)) < 1e-5, 'still a distribution');
    tf.dispose([x, flipped, byHand, scaled, sums]);
  } finally {
    model.dispose();
  }
});

test('seg eval and seg vis on a 1024² image: refused in pad mode, evaluated with TEST.MODE slide; whole mode equals pad where no padding is needed', async () => {
  const tmp = tmpDir('seg-slide-');
  try {
    const data = path.join(tmp.dir, 'data');
    await makeTinyDataset(data, { train: 4, val: 2, size: 32 });
    const run = path.join(tmp.dir, 'run');
    const config = path.join(tmp.dir, 'cfg.yaml');
    fs.writeFileSync(config, tinyConfig(data, run, { epochs: 1 }));
    let r = await runSeg(['train', '--cfg', config, '--backend', 'wasm', '--quiet'], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);

    const evalJson = async (...over: string[]): Promise<{ confusion: number[][]; miou: number }> => {
      const e = await runSeg(['eval', '--cfg', config, '--backend', 'wasm', '--json', ...over], { cwd: tmp.dir });
      assert.equal(e.code, 0, e.stderr);
      return JSON.parse(e.stdout) as { confusion: number[][]; miou: number };
    };
    assert.deepEqual((await evalJson('TEST.MODE', 'whole')).confusion, (await evalJson()).confusion, 'whole = pad when the images fill EVAL_CROP_SIZE');
    assert.deepEqual((await evalJson('TEST.MODE', 'slide', 'TEST.SLIDE.WINDOW', '(64, 64)')).confusion, (await evalJson('TEST.MODE', 'whole')).confusion, 'one window per image = whole');

    // A 1024² tile: the tiny images tiled 32 × 32 times, labels alike.
    const big = path.join(tmp.dir, 'big');
    fs.mkdirSync(big);
    const tile = async (src: string, dst: string): Promise<void> => {
      const one = await sharp(src).raw().toBuffer({ resolveWithObject: true });
      const c = one.info.channels;
      const out = Buffer.alloc(1024 * 1024 * c);
      for (let y = 0; y < 1024; y++) for (let x = 0; x < 1024; x++) one.data.copy(out, (y * 1024 + x) * c, ((y % 32) * 32 + (x % 32)) * c, ((y % 32) * 32 + (x % 32) + 1) * c);
      await sharp(out, { raw: { width: 1024, height: 1024, channels: c } }).png().toFile(dst);
    };
    await tile(path.join(data, 'val', 'images', '0.jpg'), path.join(big, 'img.png'));
    await tile(path.join(data, 'val', 'labels', '0.png'), path.join(big, 'lab.png'));
    fs.writeFileSync(path.join(big, 'val.txt'), 'img.png|lab.png\n');
    // stepscaling does not resize at eval time (unpadding would shrink the tile to FIX_RESIZE_SIZE).
    const bigArgs = ['AUG.AUG_METHOD', 'stepscaling', 'AUG.MIN_SCALE_FACTOR', '1', 'AUG.MAX_SCALE_FACTOR', '1', 'DATASET.DATA_DIR', big, 'DATASET.VAL_FILE_LIST', path.join(big, 'val.txt'), 'DATASET.VIS_FILE_LIST', path.join(big, 'val.txt')];
    r = await runSeg(['eval', '--cfg', config, '--backend', 'wasm', ...bigArgs], { cwd: tmp.dir });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /larger than EVAL_CROP_SIZE \(32, 32\)/);
    assert.match(r.stderr, /hint: .*or set TEST\.MODE whole or slide to evaluate images of any size/);

    const slide = ['TEST.MODE', 'slide', 'TEST.SLIDE.WINDOW', '(256, 256)'];
    const e = await evalJson(...bigArgs, ...slide);
    assert.equal(e.confusion.flat().reduce((a, b) => a + b, 0), 1024 * 1024, 'every pixel of the 1024² tile counted');
    const v = await runSeg(['vis', '--cfg', config, '--backend', 'wasm', '--vis_dir', path.join(tmp.dir, 'vis'), ...bigArgs, ...slide, 'TEST.SCALES', '[0.75, 1.0]', 'TEST.FLIP', 'True'], { cwd: tmp.dir });
    assert.equal(v.code, 0, v.stderr);
    const meta = await sharp(path.join(tmp.dir, 'vis', 'img.png')).metadata();
    assert.deepEqual([meta.width, meta.height], [1024, 1024]);

    r = await runSeg(['eval', '--cfg', config, 'TEST.MODE', 'slide'], { cwd: tmp.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TEST\.SLIDE\.WINDOW: must be set to \(width, height\) for TEST\.MODE slide/);
    r = await runSeg(['eval', '--cfg', config, 'TEST.SCALES', '[0.5, 1.0]'], { cwd: tmp.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TEST\.SCALES: .*needs images at any size, but TEST\.MODE pad/);
  } finally {
    tmp.cleanup();
  }
});
