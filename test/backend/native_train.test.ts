/**
 * The native (`torch`) backend end to end: gradients of a small composite function (strided and
 * dilated convolutions, seg's fused batch norm, resize, softmax) against the cpu backend, and seg's
 * training step on a small DeepLabv3+ (first loss equal to cpu's, tf.memory().numTensors and the
 * libtorch tensor count flat across steps). Skipped when the addon is not installed.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormAct } from '../../src/backend/kernels/batchnorm.js';
import { TORCH_BACKEND } from '../../src/backend/native/index.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildLoss } from '../../src/losses/build.js';
import { buildModel } from '../../src/models/build.js';
import { resizeBilinear } from '../../src/ops/index.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { trainStep } from '../../src/train/step.js';
import { Rng } from '../../src/util/rng.js';
import { SKIP_NATIVE, activateTorch, torchBackend } from './native_helpers.js';

const skip = SKIP_NATIVE;

before(async () => {
  if (!skip) await activateTorch();
});

function randT(rng: Rng, shape: number[], lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(lo, hi));
}

/** loss and gradients of a composite of the model's operations, on the active backend. */
function composite(): { loss: number; grads: Float32Array[] } {
  const rng = new Rng(21);
  const x = tf.tensor4d(randT(rng, [2, 10, 12, 3]), [2, 10, 12, 3]);
  const w = tf.tensor4d(randT(rng, [3, 3, 3, 8]), [3, 3, 3, 8]);
  const dw = tf.tensor4d(randT(rng, [3, 3, 8, 1]), [3, 3, 8, 1]);
  const gamma = tf.tensor1d(randT(rng, [8], 0.5, 2));
  const beta = tf.tensor1d(randT(rng, [8], -0.5, 1));
  const pw = tf.tensor4d(randT(rng, [1, 1, 8, 4]), [1, 1, 8, 4]);
  const target = tf.tensor4d(randT(rng, [2, 10, 12, 4], 0, 1), [2, 10, 12, 4]);
  const f = (xi: tf.Tensor, wi: tf.Tensor, dwi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor, pwi: tf.Tensor): tf.Scalar => {
    const y = tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 2, 'same'); // 5×6, asymmetric 'same' padding
    const bn = batchNormAct(y, gi as tf.Tensor1D, bi as tf.Tensor1D, 'relu6', 1e-3);
    bn.mean.dispose();
    bn.variance.dispose();
    const d = tf.depthwiseConv2d(bn.y, dwi as tf.Tensor4D, 1, 'same', 'NHWC', 2); // atrous
    const p = tf.conv2d(tf.relu(d), pwi as tf.Tensor4D, 1, 'same');
    const up = resizeBilinear(p, [10, 12]);
    const prob = tf.softmax(up);
    return tf.add(tf.mean(tf.mul(prob, target)), tf.mul(tf.mean(tf.square(d)), 0.1)) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(f)([x, w, dw, gamma, beta, pw]);
  const out = { loss: value.dataSync()[0]!, grads: grads.map((g) => Float32Array.from(g.dataSync())) };
  tf.dispose([value, ...grads, x, w, dw, gamma, beta, pw, target]);
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

test('torch: value and gradients of a composite (strided, atrous, fused BN, resize, softmax) equal cpu', { skip }, async () => {
  await tf.setBackend('cpu');
  const ref = composite();
  await tf.setBackend(TORCH_BACKEND);
  const n0 = tf.memory().numTensors;
  const got = composite();
  assert.equal(tf.memory().numTensors, n0);
  assert.ok(Math.abs(got.loss - ref.loss) <= 1e-4 * Math.abs(ref.loss), `loss ${got.loss} vs ${ref.loss}`);
  ref.grads.forEach((g, i) => {
    const e = relErr(got.grads[i]!, g);
    assert.ok(e <= 1e-4, `gradient ${i}: ${e}`);
  });
});

test('torch: seg training steps on a small DeepLabv3+: first loss equals cpu, memory flat', { skip }, async (t) => {
  const cfg = ConfigSchema.parse({
    TRAIN_CROP_SIZE: [33, 33],
    EVAL_CROP_SIZE: [33, 33],
    DATASET: { NUM_CLASSES: 3 },
    MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 0.5 } },
    SOLVER: { OPTIMIZER: 'adam', LR: 0.001 },
  });
  const rng = new Rng(4);
  const n = 2;
  const images = Float32Array.from({ length: n * 33 * 33 * 3 }, () => rng.normal());
  const labels = Int32Array.from({ length: n * 33 * 33 }, () => (rng.random() < 0.05 ? 255 : Math.floor(rng.random() * 3)));
  const batch = { images, labels, n, height: 33, width: 33, channels: 3 };
  const run = (backend: string, steps: number, check: (i: number) => void): number[] => {
    const model = buildModel(cfg, { seed: 1 });
    const names = new Map(model.weights.map((w) => [w.variable, w.name]));
    const opt = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 4e-5 }, model.weights.filter((w) => w.trainable).map((w) => ({ name: w.name, variable: w.variable })));
    const lossFn = buildLoss(cfg);
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      losses.push(trainStep(model, opt, lossFn, names, batch, { lr: 0.001, seed: i, step: i, accumulate: i === 2 ? 2 : 1, ignoreIndex: 255 }).loss);
      check(i);
    }
    opt.dispose();
    model.dispose();
    t.diagnostic(`${backend}: losses ${losses.map((l) => l.toFixed(5)).join(' ')}`);
    return losses;
  };
  await tf.setBackend('cpu');
  const ref = run('cpu', 1, () => undefined);
  await tf.setBackend(TORCH_BACKEND);
  const tb = torchBackend();
  const n0 = tf.memory().numTensors;
  const native0 = tb.addon.stats()[0];
  let tensors = -1;
  let native = -1;
  const m0 = tb.materialisations;
  const losses = run('torch', 4, (i) => {
    if (i === 0) {
      tensors = tf.memory().numTensors;
      native = tb.addon.stats()[0];
      return;
    }
    assert.equal(tf.memory().numTensors, tensors, `numTensors changed at step ${i}`);
    assert.equal(tb.addon.stats()[0], native, `libtorch tensors changed at step ${i}`);
  });
  t.diagnostic(`copies out of libtorch in 4 steps: ${tb.materialisations - m0}`);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(Math.abs(losses[0]! - ref[0]!) <= 1e-4 * Math.abs(ref[0]!), `first loss ${losses[0]} vs cpu ${ref[0]}`);
  assert.equal(tf.memory().numTensors, n0, 'model and optimiser disposed');
  assert.equal(tb.addon.stats()[0], native0, 'libtorch holds nothing after disposal');
});

test('torch: large blocks are reused through the caching allocator; what it caches stays within its limit', { skip }, async () => {
  await tf.setBackend(TORCH_BACKEND);
  const tb = torchBackend();
  const [, , , , limit] = tb.addon.allocStats();
  assert.ok(limit > 0, 'the cache is on by default (SEG_TORCH_CACHE_MB)');
  const rng = new Rng(8);
  const x = tf.tensor4d(randT(rng, [1, 128, 128, 32]), [1, 128, 128, 32]); // 2 MiB: above the 1 MiB floor
  const w = tf.tensor4d(randT(rng, [3, 3, 32, 32]), [3, 3, 32, 32]);
  const step = (): number => {
    const y = tf.tidy(() => tf.relu(tf.conv2d(tf.add(x, 1) as tf.Tensor4D, w, 1, 'same')));
    const v = y.dataSync()[123]!;
    y.dispose();
    return v;
  };
  const first = step(); // sizes the cache
  const [hits0, misses0] = tb.addon.allocStats();
  for (let i = 0; i < 5; i++) assert.equal(step(), first, 'the same result from reused blocks');
  const [hits, misses, , cached] = tb.addon.allocStats();
  assert.equal(misses, misses0, 'no new large block after the first step');
  assert.ok(hits - hits0 >= 5 * 2, `large requests served from the cache: ${hits - hits0}`);
  assert.ok(cached > 0 && cached <= limit, `cached ${cached} bytes, limit ${limit}`);
  tf.dispose([x, w]);
});
