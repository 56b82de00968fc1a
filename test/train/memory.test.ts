/**
 * Memory: tf.memory().numTensors is exactly flat across train steps and evaluation steps, and the
 * process RSS stops growing once the first steps have sized the heaps (checked over 60 steps).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel } from '../../src/models/build.js';
import { buildLoss } from '../../src/losses/build.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { trainStep, predict } from '../../src/train/step.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

test('numTensors flat and RSS bounded over 60 train steps and 20 eval steps', () => {
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
  const step = (i: number): number => trainStep(model, opt, lossFn, names, batch, { lr: 0.001, seed: i, accumulate: i % 2 === 0 ? 1 : 2, ignoreIndex: 255 }).loss;

  for (let i = 0; i < 10; i++) step(i);
  const tensors = tf.memory().numTensors;
  const rss10 = process.memoryUsage().rss;
  for (let i = 10; i < 60; i++) {
    assert.ok(Number.isFinite(step(i)));
    assert.equal(tf.memory().numTensors, tensors, `numTensors changed at step ${i}`);
  }
  const grewMb = (process.memoryUsage().rss - rss10) / 2 ** 20;
  assert.ok(grewMb < 64, `RSS grew by ${grewMb.toFixed(1)} MB between step 10 and step 60`);

  for (let i = 0; i < 20; i++) {
    const out = tf.tidy(() => predict(model.apply(tf.tensor4d(images, [n, 32, 32, 3]), { training: false })));
    out.dataSync();
    out.dispose();
    assert.equal(tf.memory().numTensors, tensors, `numTensors changed at eval step ${i}`);
  }
  opt.dispose();
  model.dispose();
});
