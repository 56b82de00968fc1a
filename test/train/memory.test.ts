/**
 * Memory: tf.memory().numTensors and numBytes are exactly flat across train steps and evaluation
 * steps, the wasm heap stops growing once the first steps have sized it, and neither the JS heap
 * nor the process RSS grows between step 100 and step 150.
 *
 * The first 100 steps are warm-up: backpropagation frees tensors as it goes (src/backend/tape.ts),
 * and seg's kernels allocate scratch of their own sizes, so the wasm heap's allocator reaches its
 * high-water mark only after some steps: 27.8 MiB at step 68 with the pointwise convolutions on
 * seg's GEMM (33.3 MiB at step 26 before them, at step 5 before the tape freed as it went), then
 * flat through step 400.
 *
 * The JS heap and RSS are read right after a full garbage collection: without it they measure when
 * V8 last collected, not what is kept (one train step here leaves several MB of garbage, and RSS
 * read at two arbitrary steps differed by 65 MB on CI with nothing leaking; 400 steps measured
 * after a collection each 20 steps: heap flat within 1 MB, RSS flat within 20 MB).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { hostFor } from '../../src/backend/kernels/host.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel } from '../../src/models/build.js';
import { buildLoss } from '../../src/losses/build.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { trainStep, predict } from '../../src/train/step.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

/** A full, synchronous garbage collection (node's `gc`, exposed without --expose-gc on the command line). */
function collect(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** The bytes of the wasm backend's linear memory (where every tensor's data lives). */
function wasmHeapBytes(): number {
  const memory = hostFor(tf.backend()).wasmMemory() as { buffer: ArrayBuffer } | undefined;
  assert.ok(memory, 'the wasm backend exposes its memory');
  return memory.buffer.byteLength;
}

const MB = 2 ** 20;

test('numTensors flat and RSS bounded over 50 train steps after 100 of warm-up, and 20 eval steps', () => {
  const cfg = ConfigSchema.parse({
    TRAIN_CROP_SIZE: [32, 32],
    EVAL_CROP_SIZE: [32, 32],
    DATASET: { NUM_CLASSES: 2 },
    MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 0.25 } },
    SOLVER: { LOSS: ['lovasz_hinge_loss', 'bce_loss'], OPTIMIZER: 'adam', LR: 0.001 },
  });
  const model = buildModel(cfg, { seed: 1 });
  const names = new Map(model.weights.map((w) => [w.variable, w.name]));
  const opt = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 4e-5 }, model.weights.filter((w) => w.trainable).map((w) => ({ name: w.name, variable: w.variable })));
  const lossFn = buildLoss(cfg);
  const rng = new Rng(3);
  const n = 2;
  const images = Float32Array.from({ length: n * 32 * 32 * 3 }, () => rng.normal());
  const labels = Int32Array.from({ length: n * 32 * 32 }, () => (rng.random() < 0.1 ? 1 : rng.random() < 0.02 ? 255 : 0));
  const batch = { images, labels, n, height: 32, width: 32, channels: 3 };
  const step = (i: number): number => trainStep(model, opt, lossFn, names, batch, { lr: 0.001, seed: i, step: i, accumulate: i % 2 === 0 ? 1 : 2, ignoreIndex: 255 }).loss;

  for (let i = 0; i < 100; i++) step(i);
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  const heap100 = wasmHeapBytes();
  collect();
  const at100 = process.memoryUsage();
  for (let i = 100; i < 150; i++) {
    assert.ok(Number.isFinite(step(i)));
    assert.equal(tf.memory().numTensors, tensors, `numTensors changed at step ${i}`);
    assert.equal(tf.memory().numBytes, bytes, `numBytes changed at step ${i}`);
  }
  assert.equal(wasmHeapBytes(), heap100, 'the wasm heap grew between step 100 and step 150');
  collect();
  const at150 = process.memoryUsage();
  const heapGrew = (at150.heapUsed - at100.heapUsed) / MB;
  const rssGrew = (at150.rss - at100.rss) / MB;
  assert.ok(heapGrew < 4, `the JS heap kept ${heapGrew.toFixed(1)} MB more at step 150 than at step 100`);
  assert.ok(rssGrew < 64, `RSS grew by ${rssGrew.toFixed(1)} MB between step 100 and step 150 (after a full GC)`);

  for (let i = 0; i < 20; i++) {
    const out = tf.tidy(() => predict(model.apply(tf.tensor4d(images, [n, 32, 32, 3]), { training: false })));
    out.dataSync();
    out.dispose();
    assert.equal(tf.memory().numTensors, tensors, `numTensors changed at eval step ${i}`);
    assert.equal(tf.memory().numBytes, bytes, `numBytes changed at eval step ${i}`);
  }
  opt.dispose();
  model.dispose();
});
