/**
 * seg's wasm Transpose, Sum, Mean and SplitV against tfjs's stock kernels on the pure-JS cpu
 * backend, on shapes with unit axes, mergeable axes, every permutation kind and several ranks.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels, SEG_WASM_SPEED_KERNEL_NAMES, stockKernel } from '../../src/backend/kernels/index.js';
import { simplifyPermutation } from '../../src/backend/kernels/layout.js';
import { Rng } from '../../src/util/rng.js';
import { type Arr, backendInstance, rand, registered, relErr, runKernel, size } from './helpers.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
  tf.engine().findBackend('cpu');
});

function cpuStock(name: string) {
  const k = stockKernel(name, 'cpu');
  assert.ok(k, name);
  return k;
}

/** Run a multi-output kernel (SplitV) on a backend; returns the outputs as arrays. */
function runMulti(name: 'cpu' | 'wasm', k: tf.KernelFunc, x: Arr, attrs: NamedAttrMap): Arr[] {
  const be = backendInstance(name);
  const before = be.numDataIds();
  const info = { dataId: be.write(x.data, x.shape, 'float32'), shape: x.shape, dtype: 'float32' as const };
  const outs = k({ inputs: { x: info }, backend: be, attrs }) as tf.TensorInfo[];
  const res = outs.map((o) => ({ shape: [...o.shape], data: Float32Array.from(be.readSync(o.dataId) as Float32Array) }));
  for (const o of outs) be.disposeData(o.dataId);
  be.disposeData(info.dataId);
  assert.equal(be.numDataIds(), before, 'leaked data');
  return res;
}

test('the speed kernels are registered for wasm', () => {
  const names = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  for (const n of SEG_WASM_SPEED_KERNEL_NAMES) assert.ok(names.has(n), n);
  assert.deepEqual([...SEG_WASM_SPEED_KERNEL_NAMES].sort(), ['Conv2D', 'FusedConv2D', 'Identity', 'Mean', 'SplitV', 'Sum', 'Transpose']);
});

test('Identity shares the data (reference-counted) and clones stay valid after the source is disposed', () => {
  const be = backendInstance('wasm');
  const n0 = be.numDataIds();
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = tf.clone(x);
  assert.equal(be.numDataIds(), n0 + 1, 'the clone shares the data buffer');
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6]);
  const v = tf.variable(y);
  const z = tf.clone(v);
  const doubled = tf.mul(y, 2) as tf.Tensor2D;
  v.assign(doubled);
  doubled.dispose();
  assert.deepEqual(Array.from(z.dataSync()), [1, 2, 3, 4, 5, 6], 'assign does not write through to a clone');
  assert.deepEqual(Array.from(v.dataSync()), [2, 4, 6, 8, 10, 12]);
  tf.dispose([y, v, z]);
  assert.equal(be.numDataIds(), n0);
});

test('simplifyPermutation merges axes that stay adjacent and drops unit axes', () => {
  assert.deepEqual(simplifyPermutation([2, 3, 4], [2, 0, 1]), { shape: [6, 4], perm: [1, 0] });
  assert.deepEqual(simplifyPermutation([2, 1, 3, 4], [0, 1, 3, 2]), { shape: [2, 3, 4], perm: [0, 2, 1] });
  assert.deepEqual(simplifyPermutation([5, 6], [0, 1]), { shape: [30], perm: [0] });
  assert.deepEqual(simplifyPermutation([1, 1], [1, 0]), { shape: [1], perm: [0] });
  assert.deepEqual(simplifyPermutation([2, 3, 4, 5], [1, 0, 2, 3]), { shape: [2, 3, 20], perm: [1, 0, 2] });
});

describe('Transpose vs stock cpu', () => {
  const cases: Array<[number[], number[]]> = [
    [[37, 53], [1, 0]],
    [[70, 45], [1, 0]], // several 16×8 tiles plus both edges
    [[3, 33, 20], [0, 2, 1]],
    [[2, 64, 5], [1, 0, 2]],
    [[3, 17, 19], [0, 2, 1]],
    [[4, 5, 6], [2, 0, 1]],
    [[4, 5, 6], [1, 2, 0]],
    [[2, 7, 9, 5], [0, 3, 1, 2]],
    [[2, 6, 6, 20], [1, 0, 2, 3]], // space-to-batch style
    [[3, 4, 8, 3], [2, 0, 1, 3]],
    [[2, 1, 5, 1, 7], [4, 2, 0, 1, 3]],
    [[2, 3, 2, 3, 2, 3], [0, 2, 4, 1, 3, 5]],
    [[6, 5], [0, 1]],
  ];
  for (const [shape, perm] of cases) {
    test(`[${shape}] perm [${perm}]`, () => {
      const x = rand(new Rng(size(shape)), shape);
      const mine = runKernel('wasm', registered('Transpose', 'wasm'), { x }, { perm });
      const ref = runKernel('cpu', cpuStock('Transpose'), { x }, { perm });
      assert.deepEqual(mine.shape, ref.shape);
      assert.equal(relErr(mine, ref), 0);
    });
  }
  test('int32 data moves too', () => {
    const x = tf.tensor3d(Int32Array.from({ length: 60 }, (_, i) => i * 7 - 100), [3, 4, 5], 'int32');
    const y = tf.transpose(x, [2, 0, 1]);
    const ref = tf.tidy(() => tf.reshape(tf.stack(tf.unstack(x, 2)), [5, 3, 4]));
    assert.deepEqual(Array.from(y.dataSync()), Array.from(ref.dataSync()));
    tf.dispose([x, y, ref]);
  });
});

describe('Sum / Mean vs stock cpu', () => {
  const cases: Array<[number[], number[], boolean]> = [
    [[2, 5, 7, 6], [0, 1, 2], false], // per-channel sums of NHWC
    [[2, 5, 7, 6], [0, 1, 2], true],
    [[2, 5, 7, 6], [1, 2], true], // global average pooling
    [[2, 5, 7, 6], [3], false],
    [[2, 5, 7, 6], [-1], true],
    [[2, 5, 7, 6], [0], false],
    [[3, 1, 4, 5], [0, 2], false], // contiguous once the unit axis is ignored
    [[2, 5, 7, 6], [0, 2], false], // scattered axes: the stock kernel
    [[11], [0], false],
    [[2, 3, 4], [0, 1, 2], false], // everything: a scalar
  ];
  test('axis null reduces everything', () => {
    const x = rand(new Rng(5), [2, 3, 4]);
    for (const name of ['Sum', 'Mean']) {
      const mine = runKernel('wasm', registered(name, 'wasm'), { x }, { axis: null as unknown as number, keepDims: false });
      const ref = runKernel('cpu', cpuStock(name), { x }, { axis: null as unknown as number, keepDims: false });
      assert.deepEqual(mine.shape, []);
      assert.ok(relErr(mine, ref) <= 1e-5);
    }
  });
  for (const [shape, axis, keepDims] of cases) {
    for (const name of ['Sum', 'Mean']) {
      test(`${name} [${shape}] axes [${axis}] keepDims ${keepDims}`, () => {
        const x = rand(new Rng(size(shape) + axis.length), shape);
        const attrs = { axis, keepDims };
        const mine = runKernel('wasm', registered(name, 'wasm'), { x }, attrs);
        const ref = runKernel('cpu', cpuStock(name), { x }, attrs);
        assert.deepEqual(mine.shape, ref.shape);
        assert.ok(relErr(mine, ref) <= 1e-5, `${relErr(mine, ref)}`);
      });
    }
  }
});

describe('SplitV vs stock cpu', () => {
  const cases: Array<[number[], number[] | number, number]> = [
    [[2, 4, 5, 304], [256, 48], 3],
    [[2, 4, 5, 12], 3, -1],
    [[3, 8, 2], [1, 5, 2], 1],
    [[6, 3], [2, 4], 0],
  ];
  for (const [shape, splits, axis] of cases) {
    test(`[${shape}] splits ${JSON.stringify(splits)} axis ${axis}`, () => {
      const x = rand(new Rng(size(shape)), shape);
      const attrs = { numOrSizeSplits: splits, axis };
      const mine = runMulti('wasm', registered('SplitV', 'wasm'), x, attrs);
      const ref = runMulti('cpu', cpuStock('SplitV'), x, attrs);
      assert.equal(mine.length, ref.length);
      mine.forEach((m, i) => assert.equal(relErr(m, ref[i]!), 0));
    });
  }
});
