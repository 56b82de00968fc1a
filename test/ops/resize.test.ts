/**
 * The half-pixel bilinear resize of the op layer: interpolation weights (hand-derived), forward and
 * gradient against PyTorch's align_corners=False, and the adjoint identity ⟨R x, y⟩ = ⟨x, Rᵀ y⟩
 * for the gradient tf.grad actually uses (non-square, up, down, 1×1).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { interpolationMatrix, resizeBilinear, resizeBilinearByMatrix } from '../../src/ops/index.js';
import { fromPacked, randn, reference, relErr, stockCpu } from './helpers.js';

before(stockCpu);

describe('interpolation weights', () => {
  test('2 → 4: edges clamp, inner rows mix 3:1 (hand-derived)', () => {
    // src = (o + 0.5)·2/4 − 0.5 = −0.25, 0.25, 0.75, 1.25
    assert.deepEqual(Array.from(interpolationMatrix(2, 4)), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
  });
  test('4 → 2: averages pairs; 3 → 3: identity; 1 → 3: broadcast', () => {
    assert.deepEqual(Array.from(interpolationMatrix(4, 2)), [0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
    assert.deepEqual(Array.from(interpolationMatrix(3, 3)), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.deepEqual(Array.from(interpolationMatrix(1, 3)), [1, 1, 1]);
  });
  test('every row sums to 1', () => {
    for (const [i, o] of [[5, 17], [17, 5], [7, 7], [3, 64]] as const) {
      const m = interpolationMatrix(i, o);
      for (let r = 0; r < o; r++) {
        let s = 0;
        for (let c = 0; c < i; c++) s += m[r * i + c] as number;
        assert.ok(Math.abs(s - 1) < 1e-6);
      }
    }
  });
});

describe('resizeBilinear against PyTorch (align_corners=False)', () => {
  for (const [i, c] of reference().cases.resize.entries()) {
    test(`case ${i}: ${c.x.shape.join('x')} → ${c.size.join('x')}: forward and gradient`, () => {
      tf.tidy(() => {
        const x = fromPacked<tf.Rank.R4>(c.x);
        const dy = fromPacked(c.dy);
        const y = resizeBilinear(x, c.size);
        assert.deepEqual(y.shape, c.y.shape);
        assert.ok(relErr(y, c.y.data) < 1e-5, `y ${relErr(y, c.y.data)}`);
        assert.ok(relErr(resizeBilinearByMatrix(x, c.size), c.y.data) < 1e-5, 'matrix form');
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(resizeBilinear(a as tf.Tensor4D, c.size), dy)))(x);
        assert.ok(relErr(dx, c.dx.data) < 1e-5, `dx ${relErr(dx, c.dx.data)}`);
      });
    });
  }
});

describe('adjoint identity of the gradient tf.grad uses', () => {
  test('⟨R x, y⟩ = ⟨x, Rᵀ y⟩ for up/down/non-square/1x1 resizes', () => {
    const sizes: Array<[number, number, number, number]> = [
      [4, 6, 16, 24],
      [5, 6, 17, 23],
      [16, 16, 64, 64],
      [8, 8, 4, 4],
      [3, 5, 7, 2],
      [1, 1, 5, 3],
      [32, 20, 8, 5],
    ];
    for (const [h, w, oh, ow] of sizes) {
      tf.tidy(() => {
        const x = randn([2, h, w, 3], h * 31 + w) as tf.Tensor4D;
        const y = randn([2, oh, ow, 3], oh * 17 + ow);
        const lhs = tf.sum(tf.mul(resizeBilinear(x, [oh, ow]), y)).dataSync()[0] as number;
        const rty = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(resizeBilinear(a as tf.Tensor4D, [oh, ow]), y)))(x);
        assert.deepEqual(rty.shape, x.shape);
        const rhs = tf.sum(tf.mul(x, rty)).dataSync()[0] as number;
        assert.ok(Math.abs(lhs - rhs) <= 1e-4 * Math.max(1, Math.abs(lhs)), `${h}x${w}→${oh}x${ow}: ${lhs} vs ${rhs}`);
      });
    }
  });

  test('same size is the identity; numTensors is flat', () => {
    const x = randn([1, 3, 4, 2], 5) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const y = resizeBilinear(x, [3, 4]);
    assert.equal(relErr(y, x), 0);
    y.dispose();
    for (let i = 0; i < 2; i++) tf.grad((a: tf.Tensor) => tf.sum(resizeBilinear(a as tf.Tensor4D, [7, 9])))(x).dispose();
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
});
