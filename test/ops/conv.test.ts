/**
 * Convolutions of the op layer on tfjs's stock cpu backend: space-to-batch placement (hand-derived),
 * atrous and strided convolutions against PyTorch (forward and both gradients), and against tfjs's
 * own dilated forward.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { batchToSpace, conv2dSame, depthwiseSame, spaceToBatch } from '../../src/ops/index.js';
import { fromPacked, randn, reference, relErr, stockCpu } from './helpers.js';

before(stockCpu);

describe('spaceToBatch / batchToSpace', () => {
  test('places phase (i, j) of a 4x4 image in batch (j·r + i)·N + n (hand-derived)', () => {
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, k) => k), [1, 4, 4, 1]);
    const y = spaceToBatch(x, 2);
    assert.deepEqual(y.shape, [4, 2, 2, 1]);
    // x[r][c] = 4r + c; batch 0: rows/cols even; 1: odd rows; 2: odd cols; 3: both odd.
    assert.deepEqual(Array.from(y.dataSync()), [0, 2, 8, 10, 4, 6, 12, 14, 1, 3, 9, 11, 5, 7, 13, 15]);
    assert.deepEqual(Array.from(batchToSpace(y, 2).dataSync()), Array.from(x.dataSync()));
    tf.dispose([x, y]);
  });

  test('round trip is exact for several batches, channels and rates', () => {
    for (const [n, h, w, c, r] of [
      [2, 6, 9, 3, 3],
      [3, 8, 4, 5, 4],
      [1, 2, 2, 7, 2],
    ] as const) {
      tf.tidy(() => {
        const x = randn([n, h, w, c], n * 100 + r) as tf.Tensor4D;
        const y = spaceToBatch(x, r);
        assert.deepEqual(y.shape, [r * r * n, h / r, w / r, c]);
        assert.equal(relErr(batchToSpace(y, r), x), 0);
        // Element check against the definition.
        const xv = x.arraySync();
        const yv = y.arraySync();
        for (let i = 0; i < r; i++)
          for (let j = 0; j < r; j++)
            for (let b = 0; b < n; b++)
              assert.deepEqual(yv[(j * r + i) * n + b]?.[h / r - 1]?.[0], xv[b]?.[(h / r - 1) * r + i]?.[j]);
      });
    }
  });

  test('rejects sizes that are not multiples of the rate', () => {
    const x = tf.zeros([1, 5, 4, 1]) as tf.Tensor4D;
    assert.throws(() => spaceToBatch(x, 2), /not a multiple/);
    x.dispose();
  });
});

describe('convolutions against PyTorch (reference.json)', () => {
  const cases = reference().cases.conv;
  for (const [i, c] of cases.entries()) {
    const what = `${c.depthwise ? 'depthwise' : 'conv'} ${c.kernel.shape.slice(0, 2).join('x')} stride ${c.stride} rate ${c.dilation} on ${c.x.shape.join('x')}`;
    test(`case ${i}: ${what}: output, dx and dkernel`, () => {
      tf.tidy(() => {
        const x = fromPacked<tf.Rank.R4>(c.x);
        const k = fromPacked<tf.Rank.R4>(c.kernel);
        const dy = fromPacked<tf.Rank.R4>(c.dy);
        const f = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => (c.depthwise ? depthwiseSame(a, b, c.stride, c.dilation) : conv2dSame(a, b, c.stride, c.dilation));
        const y = f(x, k);
        assert.deepEqual(y.shape, c.y.shape);
        assert.ok(relErr(y, c.y.data) < 1e-5, `y rel err ${relErr(y, c.y.data)}`);
        const [dx, dk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), dy)))([x, k]);
        assert.ok(relErr(dx as tf.Tensor, c.dx.data) < 1e-5, `dx rel err ${relErr(dx as tf.Tensor, c.dx.data)}`);
        assert.ok(relErr(dk as tf.Tensor, c.dkernel.data) < 1e-5, `dkernel rel err ${relErr(dk as tf.Tensor, c.dkernel.data)}`);
      });
    });
  }
});

describe('atrous convolutions against tfjs’s dilated forward', () => {
  test('depthwise and regular, rates 2..7, sizes not multiples of the rate, centre-tap case', () => {
    for (const [h, w, r] of [
      [8, 9, 2],
      [7, 5, 3],
      [6, 6, 4],
      [4, 5, 6],
      [10, 3, 4],
      [3, 3, 7],
    ] as const) {
      tf.tidy(() => {
        const x = randn([2, h, w, 3], h * 10 + r) as tf.Tensor4D;
        const kd = randn([3, 3, 3, 1], r) as tf.Tensor4D;
        const kc = randn([3, 3, 3, 4], r + 50) as tf.Tensor4D;
        const errD = relErr(depthwiseSame(x, kd, 1, r), tf.depthwiseConv2d(x, kd, 1, 'same', 'NHWC', r));
        const errC = relErr(conv2dSame(x, kc, 1, r), tf.conv2d(x, kc, 1, 'same', 'NHWC', r));
        assert.ok(errD < 1e-6, `depthwise ${h}x${w} r${r}: ${errD}`);
        assert.ok(errC < 1e-6, `conv ${h}x${w} r${r}: ${errC}`);
      });
    }
  });

  test('stride with dilation and even dilated kernels are refused', () => {
    tf.tidy(() => {
      const x = tf.zeros([1, 8, 8, 2]) as tf.Tensor4D;
      assert.throws(() => conv2dSame(x, tf.zeros([3, 3, 2, 2]) as tf.Tensor4D, 2, 2), /stride 2 with dilation 2/);
      assert.throws(() => depthwiseSame(x, tf.zeros([2, 2, 2, 1]) as tf.Tensor4D, 1, 2), /odd sizes/);
    });
  });

  test('no tensors leak through forward and gradient', () => {
    const x = randn([1, 7, 6, 2], 1) as tf.Tensor4D;
    const k = randn([3, 3, 2, 1], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(depthwiseSame(a as tf.Tensor4D, b as tf.Tensor4D, 1, 3)))([x, k]);
      tf.dispose(g);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, k]);
  });
});
