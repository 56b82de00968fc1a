/**
 * DeepLabv3+ built from configs: logits shapes for every output stride and flag combination,
 * gradients reaching every trainable weight, padding of sizes that are not multiples of the output
 * stride, batch-norm modes, dropout seeding, seeded initialisation and tensor leaks. Small inputs
 * and multiplier 0.25 keep it fast; the two shipped configs run at multiplier 1.0.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { buildModel, type DeepLabV3Plus } from '../../src/models/build.js';
import { movingMomentum } from '../../src/models/layers.js';
import { SegError } from '../../src/util/errors.js';
import { config, sumSquares, VOC_CONFIG } from './helpers.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

const images = (n: number, h: number, w: number, seed = 1, c = 3): tf.Tensor4D => tf.randomNormal([n, h, w, c], 0, 1, 'float32', seed);

/** Runs forward + backward in training mode; returns the names of trainable weights with an all-zero gradient. */
function zeroGradients(model: DeepLabV3Plus, x: tf.Tensor4D): string[] {
  const vars = model.trainableVariables();
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(x, { training: true, seed: 3 });
    // A loss that depends on every output: mean squared logits against a fixed pattern.
    return tf.mean(tf.square(tf.sub(logits, tf.linspace(-1, 1, logits.size).reshape(logits.shape))));
  }, vars);
  const zero: string[] = [];
  for (const w of model.weights) {
    if (!w.trainable) continue;
    const g = grads[w.variable.name];
    assert.ok(g, `no gradient for ${w.name}`);
    assert.ok(Number.isFinite(sumSquares(g)), `non-finite gradient for ${w.name}`);
    if (sumSquares(g) === 0) zero.push(w.name);
  }
  value.dispose();
  tf.dispose(grads);
  return zero;
}

describe('shapes and gradients for every output stride and flag combination', () => {
  const small = { 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 };
  for (const os of [8, 16, 32]) {
    for (const aspp of [true, false]) {
      for (const decoder of [true, false]) {
        test(`OS${os} ASPP ${aspp ? 'on' : 'off'} decoder ${decoder ? 'on' : 'off'}: [2, 32, 48, C] logits, every weight gets a gradient`, () => {
          const cfg = config({ ...small, 'MODEL.DEEPLAB.OUTPUT_STRIDE': os, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': aspp, 'MODEL.DEEPLAB.ENABLE_DECODER': decoder });
          const model = buildModel(cfg, { seed: os });
          assert.equal(model.outputStride, os);
          assert.equal(model.headChannels, 1); // lovasz_hinge + bce: one-channel head
          const x = images(2, 32, 48);
          const before = tf.memory().numTensors;
          const y = model.apply(x, { training: false });
          assert.deepEqual(y.shape, [2, 32, 48, 1]);
          y.dispose();
          assert.deepEqual(zeroGradients(model, x), []);
          assert.equal(tf.memory().numTensors, before, 'numTensors after forward and gradient');
          x.dispose();
          model.dispose();
        });
      }
    }
  }

  const variants: Array<[string, Record<string, string | number | boolean>]> = [
    ['plain 3x3 convs in ASPP and decoder', { 'MODEL.DEEPLAB.ASPP_WITH_SEP_CONV': false, 'MODEL.DEEPLAB.DECODER_USE_SEP_CONV': false }],
    ['sum-merge decoder', { 'MODEL.DEEPLAB.DECODER.USE_SUM_MERGE': true, 'MODEL.DEEPLAB.DECODER.CONV_FILTERS': 32 }],
    ['no image pooling, no concat projection, custom rates', { 'MODEL.DEEPLAB.ENCODER.ADD_IMAGE_LEVEL_FEATURE': false, 'MODEL.DEEPLAB.ENCODER.ASPP_WITH_CONCAT_PROJECTION': false, 'MODEL.DEEPLAB.ENCODER.ASPP_RATIOS': '[1, 2]' }],
    ['group norm', { 'MODEL.DEFAULT_NORM_TYPE': 'gn', 'MODEL.DEFAULT_GROUP_NUMBER': 4 }],
    ['softmax head with 5 classes and 64 ASPP filters', { 'SOLVER.LOSS': "['softmax_loss']", 'DATASET.NUM_CLASSES': 5, 'MODEL.DEEPLAB.ENCODER.ASPP_CONVS_FILTERS': 64 }],
  ];
  for (const [what, overrides] of variants) {
    test(`OS16 ASPP + decoder, ${what}`, () => {
      const cfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true, ...overrides });
      const model = buildModel(cfg);
      const x = images(2, 32, 32);
      const y = model.apply(x, { training: true, seed: 1 });
      assert.deepEqual(y.shape, [2, 32, 32, model.headChannels]);
      y.dispose();
      assert.deepEqual(zeroGradients(model, x), []);
      x.dispose();
      model.dispose();
    });
  }

  test('an empty ASPP_RATIOS list is a config error naming the key', () => {
    const cfg = config({ 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENCODER.ASPP_RATIOS': '[]' });
    assert.throws(() => buildModel(cfg), (e: unknown) => e instanceof SegError && e.kind === 'config' && /ASPP_RATIOS/.test(e.message));
  });
});

describe('the two shipped configs (multiplier 1.0)', () => {
  test('road (lovasz_hinge + bce): MobileNetV2 → 1x1 → upsample, 1-channel head, all weights get gradients', () => {
    const model = buildModel(config());
    assert.equal(model.headChannels, 1);
    assert.match(model.describe(), /OS16 bn, ASPP off, decoder off, head 1 ch/);
    assert.deepEqual(
      model.weights.filter((w) => !w.name.startsWith('backbone/')).map((w) => w.name),
      ['logit/kernel', 'logit/bias'],
    );
    const x = images(1, 32, 32);
    assert.deepEqual(zeroGradients(model, x), []);
    x.dispose();
    model.dispose();
  });

  test('VOC (lovasz_softmax + softmax): 21-channel head', () => {
    const model = buildModel(config({}, VOC_CONFIG));
    assert.equal(model.headChannels, 21);
    const x = images(1, 48, 32);
    const y = model.apply(x, { training: false });
    assert.deepEqual(y.shape, [1, 48, 32, 21]);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('input sizes', () => {
  test('sizes that are not multiples of the output stride are padded with zeros and the logits cropped', () => {
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENABLE_DECODER': true, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true }));
    tf.tidy(() => {
      const x = images(1, 33, 20);
      const y = model.apply(x, { training: false });
      assert.deepEqual(y.shape, [1, 33, 20, 1]);
      // The same as running the zero-padded 48x32 input and cropping.
      const padded = tf.pad(x, [[0, 0], [0, 15], [0, 12], [0, 0]]);
      const yp = tf.slice(model.apply(padded, { training: false }), [0, 0, 0, 0], [1, 33, 20, 1]);
      assert.ok(tf.max(tf.abs(tf.sub(y, yp))).dataSync()[0]! < 1e-5);
      // A tiny image (smaller than the stride) works too.
      assert.deepEqual(model.apply(images(1, 5, 7), { training: false }).shape, [1, 5, 7, 1]);
    });
    model.dispose();
  });

  test('a wrong channel count is a data error naming DATA_DIM', () => {
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 }));
    const x = images(1, 16, 16, 1, 4);
    assert.throws(() => model.apply(x, { training: false }), (e: unknown) => e instanceof SegError && e.kind === 'data' && /4 channels.*takes 3.*DATA_DIM/.test(e.message));
    x.dispose();
    model.dispose();
  });

  test('rgba configs build a 4-channel stem', () => {
    const cfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'DATASET.IMAGE_TYPE': 'rgba', MEAN: '[0.5,0.5,0.5,0.5]', STD: '[0.5,0.5,0.5,0.5]' });
    const model = buildModel(cfg);
    assert.deepEqual(model.weights[0]?.variable.shape, [3, 3, 4, 8]);
    const x = images(1, 16, 16, 1, 4);
    const y = model.apply(x, { training: false });
    assert.deepEqual(y.shape, [1, 16, 16, 1]);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('training vs inference', () => {
  const cfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true });

  test('training updates the moving statistics (backbone momentum 0.9, head MODEL.BN_MOMENTUM); inference does not', () => {
    const model = buildModel(cfg);
    const get = (name: string): Float32Array => {
      const w = model.weights.find((v) => v.name === name);
      assert.ok(w, name);
      return w.variable.dataSync() as Float32Array;
    };
    const stem = 'backbone/stem/bn/moving_mean';
    const head = 'encoder/aspp0/bn/moving_variance';
    const s0 = get(stem).slice();
    const h0 = get(head).slice();
    const x = images(2, 32, 32);
    model.apply(x, { training: false }).dispose();
    assert.deepEqual(get(stem), s0);
    assert.deepEqual(get(head), h0);
    // After one training call: moving = m·moving + (1 − m)·batch. With moving_mean 0 at init, the
    // stem's new moving mean is 0.1·(batch mean); check against the batch mean of the stem conv.
    model.apply(x, { training: true, seed: 1 }).dispose();
    const kernel = model.weights[0]!.variable as tf.Variable<tf.Rank.R4>;
    const batchMean = tf.tidy(() => tf.mean(tf.conv2d(x, kernel, 2, 'same'), [0, 1, 2]).dataSync());
    get(stem).forEach((v, i) => assert.ok(Math.abs(v - 0.1 * (batchMean[i] as number)) < 1e-5, `stem channel ${i}`));
    // Head BN (momentum 0.99): the variance moved 1 % of the way from 1 to the batch variance, a tenth
    // of the way the same network with MODEL.BN_MOMENTUM 0.9 moves it.
    const fast = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true, 'MODEL.BN_MOMENTUM': 0.9 }));
    fast.apply(x, { training: true, seed: 1 }).dispose();
    const fastHead = fast.weights.find((v) => v.name === head)!.variable.dataSync();
    get(head).forEach((v, i) => {
      const d = v - (h0[i] as number);
      assert.ok(d !== 0 && Math.abs(10 * d - ((fastHead[i] as number) - 1)) <= 1e-3 * Math.abs(10 * d) + 1e-6, `head channel ${i}: ${v} vs ${fastHead[i]}`);
    });
    x.dispose();
    model.dispose();
    fast.dispose();
  });

  test('the moving statistics warm up: update t uses momentum min(m, (1 + t)/(10 + t))', () => {
    assert.equal(movingMomentum(0.99, undefined), 0.99);
    assert.equal(movingMomentum(0.99, 0), 0.1);
    assert.equal(movingMomentum(0.9, 80), 0.9);
    assert.equal(movingMomentum(0.99, 5000), 0.99);
    const cfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true });
    const x = images(2, 32, 32);
    const meanAfter = (updates: number | undefined): Float32Array => {
      const model = buildModel(cfg, { seed: 7 });
      model.apply(x, { training: true, seed: 1, ...(updates === undefined ? {} : { updates }) }).dispose();
      const m = Float32Array.from(model.weights.find((w) => w.name === 'encoder/aspp0/bn/moving_mean')!.variable.dataSync());
      model.dispose();
      return m;
    };
    // From moving_mean 0: (1 − m)·batch mean, so the first update (m = 0.1) moves 90 times as far as m = 0.99.
    const plain = meanAfter(undefined);
    const first = meanAfter(0);
    plain.forEach((p, i) => assert.ok(Math.abs(first[i]! - 90 * p) <= 1e-3 * Math.abs(first[i]!) + 1e-6, `channel ${i}: ${first[i]} vs 90 × ${p}`));
    x.dispose();
  });

  test('dropout: the same seed gives the same training logits, another seed others; inference ignores the seed', () => {
    const model = buildModel(cfg);
    tf.tidy(() => {
      const x = images(2, 32, 32);
      const a = model.apply(x, { training: true, seed: 5 });
      const b = model.apply(x, { training: true, seed: 5 });
      const c = model.apply(x, { training: true, seed: 6 });
      assert.equal(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], 0);
      assert.ok(tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]! > 0);
      const i1 = model.apply(x, { training: false, seed: 1 });
      const i2 = model.apply(x, { training: false, seed: 2 });
      assert.equal(tf.max(tf.abs(tf.sub(i1, i2))).dataSync()[0], 0);
    });
    model.dispose();
  });
});

describe('initialisation and memory', () => {
  test('the same seed gives bit-identical weights; another seed different ones', () => {
    const small = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true });
    const a = buildModel(small, { seed: 42 });
    const b = buildModel(small, { seed: 42 });
    const c = buildModel(small, { seed: 43 });
    assert.deepEqual(a.weights.map((w) => w.name), b.weights.map((w) => w.name));
    a.weights.forEach((w, i) => {
      assert.deepEqual(w.variable.dataSync(), b.weights[i]!.variable.dataSync(), w.name);
    });
    const kernelA = a.weights.find((w) => w.name === 'backbone/block_5/expand/kernel')!.variable;
    const kernelC = c.weights.find((w) => w.name === 'backbone/block_5/expand/kernel')!.variable;
    assert.notDeepEqual(kernelA.dataSync(), kernelC.dataSync());
    // A weight's initial value does not depend on which other layers are built.
    const noAspp = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 }), { seed: 42 });
    assert.deepEqual(noAspp.weights.find((w) => w.name === 'backbone/block_5/expand/kernel')!.variable.dataSync(), kernelA.dataSync());
    // He initialisation: std √(2/fan_in) (truncated normal, so slightly less).
    const std = Math.sqrt(sumSquares(kernelA) / kernelA.size);
    const fanIn = kernelA.shape[2]!;
    assert.ok(std > 0.8 * Math.sqrt(2 / fanIn) && std < 1.05 * Math.sqrt(2 / fanIn), `std ${std}`);
    for (const m of [a, b, c, noAspp]) m.dispose();
  });

  test('numTensors is flat across training and inference calls and gradient steps; dispose frees every variable', () => {
    const before = tf.memory().numTensors;
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true }));
    const x = images(2, 32, 32);
    const afterBuild = tf.memory().numTensors;
    assert.equal(afterBuild - before, model.weights.length + 1);
    for (let i = 0; i < 2; i++) {
      model.apply(x, { training: true }).dispose();
      model.apply(x, { training: false }).dispose();
      const { value, grads } = tf.variableGrads(() => tf.mean(model.apply(x, { training: true })), model.trainableVariables());
      value.dispose();
      tf.dispose(grads);
      assert.equal(tf.memory().numTensors, afterBuild, `iteration ${i}`);
    }
    x.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
