/**
 * Normalisation ops on tfjs's stock cpu backend, against PyTorch (reference.json): training-mode
 * batch norm (forward, the hand-written gradient, pdseg's moving-statistics update), inference
 * batch norm, group norm; and the group-count rule.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormInfer, batchNormTrain, groupNorm, groupsFor } from '../../src/ops/index.js';
import type { BatchNormParams } from '../../src/ops/types.js';
import { fromPacked, randn, reference, relErr, stockCpu } from './helpers.js';

before(stockCpu);

function bnParams(gamma: tf.Tensor1D, beta: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D): BatchNormParams {
  return { kind: 'bn', gamma, beta, movingMean: tf.variable(mean, false), movingVariance: tf.variable(variance, false) };
}

describe('batch norm (training mode)', () => {
  test('forward, dx, dγ, dβ and the moving-statistics update match PyTorch', () => {
    const c = reference().cases.bn_train;
    const x = fromPacked<tf.Rank.R4>(c.x);
    const gamma = fromPacked<tf.Rank.R1>(c.gamma);
    const beta = fromPacked<tf.Rank.R1>(c.beta);
    const dy = fromPacked<tf.Rank.R4>(c.dy);
    const p = bnParams(gamma, beta, fromPacked(c.moving_mean), fromPacked(c.moving_variance));
    const opts = { training: true, momentum: c.momentum, epsilon: c.epsilon };
    const y = batchNormTrain(x, p, opts);
    assert.ok(relErr(y, c.y.data) < 1e-5, `y ${relErr(y, c.y.data)}`);
    assert.ok(relErr(p.movingMean, c.new_moving_mean.data) < 1e-6);
    assert.ok(relErr(p.movingVariance, c.new_moving_variance.data) < 1e-6);
    const [dx, dg, db] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, { ...p, gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D }, opts), dy)),
    )([x, gamma, beta]);
    assert.ok(relErr(dx as tf.Tensor, c.dx.data) < 1e-5, `dx ${relErr(dx as tf.Tensor, c.dx.data)}`);
    assert.ok(relErr(dg as tf.Tensor, c.dgamma.data) < 1e-5, `dgamma ${relErr(dg as tf.Tensor, c.dgamma.data)}`);
    assert.ok(relErr(db as tf.Tensor, c.dbeta.data) < 1e-5, `dbeta ${relErr(db as tf.Tensor, c.dbeta.data)}`);
    tf.dispose([x, gamma, beta, dy, y, dx, dg, db, p.movingMean, p.movingVariance]);
  });

  test('the hand-written gradient equals autodiff through tf.moments (second-order-free check)', () => {
    tf.tidy(() => {
      const x = randn([3, 4, 2, 5], 7, 3) as tf.Tensor4D;
      const gamma = randn([5], 8) as tf.Tensor1D;
      const beta = randn([5], 9) as tf.Tensor1D;
      const dy = randn([3, 4, 2, 5], 10);
      const p = bnParams(gamma, beta, tf.zeros([5]), tf.ones([5]));
      const opts = { training: true, momentum: 0.9, epsilon: 1e-3 };
      const mine = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, { ...p, gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D }, opts), dy)))([x, gamma, beta]);
      const auto = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        return tf.sum(tf.mul(tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-3))), g), b), dy));
      })([x, gamma, beta]);
      for (let i = 0; i < 3; i++) assert.ok(relErr(mine[i] as tf.Tensor, auto[i] as tf.Tensor) < 1e-5, `grad ${i}`);
      p.movingMean.dispose();
      p.movingVariance.dispose();
    });
  });

  test('momentum 0.99 moves the statistics by 1 % of the batch statistics per call', () => {
    const x = tf.tensor4d([1, 3, 5, 7], [1, 2, 2, 1]); // mean 4, biased variance 5
    const p = bnParams(tf.ones([1]), tf.zeros([1]), tf.zeros([1]), tf.ones([1]));
    batchNormTrain(x, p, { training: true, momentum: 0.99, epsilon: 1e-5 }).dispose();
    assert.ok(Math.abs((p.movingMean.dataSync()[0] as number) - 0.04) < 1e-7);
    assert.ok(Math.abs((p.movingVariance.dataSync()[0] as number) - (0.99 + 0.05)) < 1e-6);
    tf.dispose([x, p.gamma, p.beta, p.movingMean, p.movingVariance]);
  });

  test('numTensors is flat across forward and gradient calls', () => {
    const x = randn([2, 3, 3, 4], 1) as tf.Tensor4D;
    const p = bnParams(tf.variable(tf.ones([4])) as tf.Variable<tf.Rank.R1>, tf.variable(tf.zeros([4])) as tf.Variable<tf.Rank.R1>, tf.zeros([4]), tf.ones([4]));
    const opts = { training: true, momentum: 0.9, epsilon: 1e-5 };
    batchNormTrain(x, p, opts).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      batchNormTrain(x, p, opts).dispose();
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(batchNormTrain(x, p, opts))), [p.gamma as tf.Variable, p.beta as tf.Variable]);
      value.dispose();
      tf.dispose(grads);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, p.gamma, p.beta, p.movingMean, p.movingVariance]);
  });
});

describe('batch norm (inference mode) and group norm', () => {
  test('inference batch norm matches PyTorch', () => {
    const c = reference().cases.bn_infer;
    tf.tidy(() => {
      const p = bnParams(fromPacked(c.gamma), fromPacked(c.beta), fromPacked(c.moving_mean), fromPacked(c.moving_variance));
      assert.ok(relErr(batchNormInfer(fromPacked(c.x), p, c.epsilon), c.y.data) < 1e-5);
      p.movingMean.dispose();
      p.movingVariance.dispose();
    });
  });

  test('group norm forward and gradients match PyTorch', () => {
    const c = reference().cases.gn;
    tf.tidy(() => {
      const x = fromPacked<tf.Rank.R4>(c.x);
      const gamma = fromPacked<tf.Rank.R1>(c.gamma);
      const beta = fromPacked<tf.Rank.R1>(c.beta);
      const dy = fromPacked(c.dy);
      const y = groupNorm(x, { kind: 'gn', gamma, beta, groups: c.groups }, c.epsilon);
      assert.ok(relErr(y, c.y.data) < 1e-5, `y ${relErr(y, c.y.data)}`);
      const g = tf.grads((a: tf.Tensor, gg: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(groupNorm(a as tf.Tensor4D, { kind: 'gn', gamma: gg as tf.Tensor1D, beta: b as tf.Tensor1D, groups: c.groups }, c.epsilon), dy)))([x, gamma, beta]);
      assert.ok(relErr(g[0] as tf.Tensor, c.dx.data) < 1e-5, 'dx');
      assert.ok(relErr(g[1] as tf.Tensor, c.dgamma.data) < 1e-5, 'dgamma');
      assert.ok(relErr(g[2] as tf.Tensor, c.dbeta.data) < 1e-5, 'dbeta');
    });
  });

  test('group norm works at batch 1 on a 1x1 map (where batch norm cannot)', () => {
    tf.tidy(() => {
      const x = randn([1, 1, 1, 8], 3) as tf.Tensor4D;
      const y = groupNorm(x, { kind: 'gn', gamma: tf.ones([8]), beta: tf.zeros([8]), groups: 2 }, 1e-5);
      const v = y.dataSync();
      // each group of 4 values is standardised: mean 0, (biased) variance ~1
      for (const start of [0, 4]) {
        const g = Array.from(v.slice(start, start + 4));
        const mean = g.reduce((s, a) => s + a, 0) / 4;
        const variance = g.reduce((s, a) => s + (a - mean) ** 2, 0) / 4;
        assert.ok(Math.abs(mean) < 1e-6);
        assert.ok(Math.abs(variance - 1) < 1e-3);
      }
    });
  });

  test('group count: DEFAULT_GROUP_NUMBER when it divides, else the nearest divisor (larger on ties), at most the channel count', () => {
    assert.equal(groupsFor(256, 32), 32);
    assert.equal(groupsFor(96, 32), 32);
    assert.equal(groupsFor(144, 32), 36); // 144 = 4·36; 28 and 31..35 do not divide
    assert.equal(groupsFor(48, 32), 24); // 24 at distance 8 comes before 48 at distance 16
    assert.equal(groupsFor(8, 32), 8);
    assert.equal(groupsFor(7, 2), 1); // a prime: only 1 (and 7)
    assert.equal(groupsFor(30, 4), 5); // 5 (+1) before 3 (−1)
  });
});
