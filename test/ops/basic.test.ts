/**
 * The simple composite ops (dropout, pooling, concat, add, pad, crop, conv2dBias, activations in
 * convBnAct) and the OpSet swap mechanism, on tfjs's stock cpu backend.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { currentOps, referenceOps, setOps } from '../../src/ops/index.js';
import { randn, relErr, stockCpu } from './helpers.js';

before(stockCpu);
const ops = referenceOps;

describe('dropout', () => {
  test('inverted dropout: zeros about `rate` of the values, scales the rest by 1/(1 − rate)', () => {
    tf.tidy(() => {
      const x = tf.ones([4, 50, 50, 1]) as tf.Tensor4D; // 10 000 values
      const v = ops.dropout(x, 0.1, 123).dataSync();
      let zeros = 0;
      for (const a of v) {
        if (a === 0) zeros++;
        else assert.ok(Math.abs(a - 1 / 0.9) < 1e-6);
      }
      // Binomial(10000, 0.1): mean 1000, sd 30; the seed makes it deterministic anyway.
      assert.ok(zeros > 880 && zeros < 1120, `zeros ${zeros}`);
    });
  });

  test('same seed, same mask; another seed, another mask; rate 0 is the identity', () => {
    tf.tidy(() => {
      const x = randn([2, 8, 8, 4], 1) as tf.Tensor4D;
      assert.equal(relErr(ops.dropout(x, 0.5, 7), ops.dropout(x, 0.5, 7)), 0);
      assert.ok(relErr(ops.dropout(x, 0.5, 7), ops.dropout(x, 0.5, 8)) > 0.1);
      assert.equal(relErr(ops.dropout(x, 0, 7), x), 0);
      assert.throws(() => ops.dropout(x, 1, 7), /rate/);
    });
  });

  test('the gradient is the mask', () => {
    tf.tidy(() => {
      const x = randn([1, 4, 4, 2], 2) as tf.Tensor4D;
      const g = tf.grad((a: tf.Tensor) => tf.sum(ops.dropout(a as tf.Tensor4D, 0.25, 99)))(x);
      const mask = ops.dropout(tf.onesLike(x), 0.25, 99);
      assert.equal(relErr(g, mask), 0);
    });
  });
});

describe('pooling, concat, add, pad, crop', () => {
  test('globalAvgPool keeps H and W as 1', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
      const y = ops.globalAvgPool(x);
      assert.deepEqual(y.shape, [1, 1, 1, 2]);
      assert.deepEqual(Array.from(y.dataSync()), [(1 + 3 + 10 + 30) / 4, (2 + 4 + 20 + 40) / 4]);
    });
  });

  test('concat is along channels; add is elementwise', () => {
    tf.tidy(() => {
      const a = tf.tensor4d([1, 2], [1, 1, 2, 1]);
      const b = tf.tensor4d([3, 4, 5, 6], [1, 1, 2, 2]);
      assert.deepEqual(Array.from(ops.concat([a, b]).dataSync()), [1, 3, 4, 2, 5, 6]);
      assert.deepEqual(Array.from(ops.add(a, a).dataSync()), [2, 4]);
    });
  });

  test('padTo zero-pads bottom/right; crop takes the top-left window; both invert', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const p = ops.padTo(x, 3, 4);
      assert.deepEqual(p.shape, [1, 3, 4, 1]);
      assert.deepEqual(Array.from(p.dataSync()), [1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0]);
      assert.equal(relErr(ops.crop(p, 2, 2), x), 0);
      assert.throws(() => ops.padTo(x, 1, 2), /larger/);
      assert.throws(() => ops.crop(x, 3, 1), /larger/);
    });
  });
});

describe('conv layers', () => {
  test('conv2dBias adds the bias and applies relu6', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, -2, 3, 10], [1, 2, 2, 1]);
      const kernel = tf.tensor4d([2], [1, 1, 1, 1]);
      const y = ops.conv2dBias(x, { kernel, bias: tf.tensor1d([-1]) }, { act: 'relu6' });
      assert.deepEqual(Array.from(y.dataSync()), [1, 0, 5, 6]);
      assert.deepEqual(Array.from(ops.conv2dBias(x, { kernel }).dataSync()), [2, -4, 6, 20]);
    });
  });

  test('convBnAct in inference mode = conv, then (x − mean)·γ/√(var + ε) + β, then ReLU', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const kernel = tf.tensor4d([3], [1, 1, 1, 1]);
      const norm = {
        kind: 'bn' as const,
        gamma: tf.tensor1d([2]),
        beta: tf.tensor1d([-10]),
        movingMean: tf.variable(tf.tensor1d([1]), false) as tf.Variable<tf.Rank.R1>,
        movingVariance: tf.variable(tf.tensor1d([4]), false) as tf.Variable<tf.Rank.R1>,
      };
      const y = ops.convBnAct(x, { kernel, norm }, { act: 'relu', training: false, momentum: 0.9, epsilon: 0 });
      // conv: 3, 6, 9, 12 → (v − 1)·2/2 − 10 = −8, −5, −2, 1 → relu
      assert.deepEqual(Array.from(y.dataSync()), [0, 0, 0, 1]);
      norm.movingMean.dispose();
      norm.movingVariance.dispose();
    });
  });
});

describe('OpSet swapping', () => {
  test('setOps replaces ops for currentOps() until restored', () => {
    assert.equal(currentOps().add, referenceOps.add);
    let calls = 0;
    const restore = setOps({
      add: (a, b) => {
        calls++;
        return referenceOps.add(a, b);
      },
    });
    tf.tidy(() => currentOps().add(tf.zeros([1, 1, 1, 1]), tf.zeros([1, 1, 1, 1])));
    assert.equal(calls, 1);
    assert.equal(currentOps().concat, referenceOps.concat);
    restore();
    assert.equal(currentOps().add, referenceOps.add);
  });
});
