/**
 * seg's kernels on the wasm backend against tfjs's stock kernels on the pure-JS cpu backend
 * (kernel level, see checks.ts), and the same through tf.grad (gradient level), plus a small
 * training step that exercises every registered kernel and keeps tf.memory() flat.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { SEG_KERNEL_NAMES, registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { convTuning } from '../../src/backend/kernels/conv.js';
import { Rng } from '../../src/util/rng.js';
import { DENSE_CASES, DEPTHWISE_CASES, RESIZE_CASES } from './cases.js';
import { checkConv, checkResize, resizeGradReference } from './checks.js';
import { type Arr, contractFilter, expandFilter, rand, relErr } from './helpers.js';

const TOL = 1e-4;

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm'); // gradients load asynchronously
  tf.engine().findBackend('cpu'); // initialise the reference backend too
});

describe('wasm: registered kernels', () => {
  test('every seg kernel is registered for wasm (stock wasm lacks three of them)', () => {
    const names = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    for (const n of SEG_KERNEL_NAMES) assert.ok(names.has(n), `${n} not registered`);
    for (const n of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
      assert.ok(SEG_KERNEL_NAMES.includes(n));
    }
  });
});

describe('wasm: Conv2DBackpropFilter / Conv2DBackpropInput vs stock cpu', () => {
  for (const c of DENSE_CASES) {
    test(c.name, () => {
      const e = checkConv('wasm', c, false);
      assert.ok(e.dW <= TOL, `dW rel err ${e.dW}`);
      assert.ok(e.dX <= TOL, `dX rel err ${e.dX}`);
      assert.ok(e.adjointW <= TOL && e.adjointX <= TOL, `adjoint ${e.adjointW} ${e.adjointX}`);
    });
  }
  test('chunked im2col/col2im path gives the same result', () => {
    const saved = convTuning.im2colLimit;
    convTuning.im2colLimit = 50; // a few rows per chunk
    try {
      for (const c of DENSE_CASES.filter((d) => d.w[0] * d.w[1] > 1)) {
        const e = checkConv('wasm', c, false);
        assert.ok(e.dW <= TOL && e.dX <= TOL, `${c.name}: ${JSON.stringify(e)}`);
      }
    } finally {
      convTuning.im2colLimit = saved;
    }
  });
});

describe('wasm: DepthwiseConv2dNativeBackpropFilter / Input vs stock cpu', () => {
  for (const c of DEPTHWISE_CASES) {
    test(c.name, () => {
      const e = checkConv('wasm', c, true);
      assert.ok(e.dW <= TOL, `dW rel err ${e.dW}`);
      assert.ok(e.dX <= TOL, `dX rel err ${e.dX}`);
      assert.ok(e.adjointW <= TOL && e.adjointX <= TOL, `adjoint ${e.adjointW} ${e.adjointX}`);
    });
  }
});

describe('wasm: ResizeBilinearGrad is the adjoint of ResizeBilinear', () => {
  for (const c of RESIZE_CASES) {
    test(c.name, () => {
      const e = checkResize('wasm', c);
      assert.ok(e.grad <= TOL, `grad rel err ${e.grad}`);
      assert.ok(e.adjoint <= TOL, `adjoint ${e.adjoint}`);
      if (!Number.isNaN(e.stock)) assert.ok(e.stock <= TOL, `vs stock ${e.stock}`);
    });
  }
});

function toTensor(a: Arr): tf.Tensor4D {
  return tf.tensor4d(a.data, a.shape as [number, number, number, number]);
}
function fromTensor(t: tf.Tensor): Arr {
  return { shape: [...t.shape], data: Float32Array.from(t.dataSync()) };
}
/** Run f (which returns tensors) in a tidy scope and read its results out as arrays. */
function read(f: () => tf.Tensor[]): Arr[] {
  const ts = tf.tidy(f);
  const out = ts.map(fromTensor);
  tf.dispose(ts);
  return out;
}
type GradFn = (...t: tf.Tensor[]) => tf.Tensor;
async function onBackend<T>(name: string, f: () => T): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend(name);
  try {
    return f();
  } finally {
    await tf.setBackend(prev);
  }
}

describe('wasm: gradients through tf.grads', () => {
  test('conv2d s2 same: dx, dw equal the cpu backend’s stock gradients', async () => {
    const rng = new Rng(11);
    const x = rand(rng, [2, 9, 7, 3]);
    const w = rand(rng, [3, 3, 3, 4]);
    const r = rand(rng, [2, 5, 4, 4]);
    const g = (): Arr[] =>
      read(() => {
        const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(a, b, 2, 'same'), toTensor(r)));
        return tf.grads(f as GradFn)([toTensor(x), toTensor(w)]);
      });
    const mine = g();
    const ref = await onBackend('cpu', g);
    assert.ok(relErr(mine[0]!, ref[0]!) <= TOL);
    assert.ok(relErr(mine[1]!, ref[1]!) <= TOL);
  });

  test('atrous depthwise (rate 2) trains on wasm; gradients equal the undilated-filter reference on cpu', async () => {
    const rng = new Rng(12);
    const x = rand(rng, [2, 9, 9, 4]);
    const w = rand(rng, [3, 3, 4, 1]);
    const r = rand(rng, [2, 9, 9, 4]);
    const mine = read(() => {
      const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.sum(tf.mul(tf.depthwiseConv2d(a, b, 1, 'same', 'NHWC', 2), toTensor(r)));
      return tf.grads(f as GradFn)([toTensor(x), toTensor(w)]);
    });
    const we = expandFilter(w, 2, 2);
    const ref = await onBackend('cpu', () =>
      read(() => {
        const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.sum(tf.mul(tf.depthwiseConv2d(a, b, 1, 'same'), toTensor(r)));
        return tf.grads(f as GradFn)([toTensor(x), toTensor(we)]);
      }),
    );
    assert.ok(relErr(mine[0]!, ref[0]!) <= TOL, 'dx');
    assert.ok(relErr(mine[1]!, contractFilter(ref[1]!, 3, 3, 2, 2)) <= TOL, 'dw');
  });

  test('a dilated gradient on a backend without seg kernels fails loudly instead of silently', async () => {
    await onBackend('cpu', () => {
      const x = tf.ones([1, 6, 6, 2]) as tf.Tensor4D;
      const w = tf.ones([3, 3, 2, 1]) as tf.Tensor4D;
      const f = (a: tf.Tensor4D) => tf.sum(tf.depthwiseConv2d(a, w, 1, 'same', 'NHWC', 2));
      assert.throws(() => tf.grad(f as GradFn)(x), /dilation/);
      tf.dispose([x, w]);
    });
  });

  test('resizeBilinear half-pixel (x4, non-square): tf.grad is Ryᵀ·dy·Rx', () => {
    const rng = new Rng(13);
    const c = { name: 'grad', x: [2, 3, 5, 2] as [number, number, number, number], size: [12, 20] as [number, number], alignCorners: false, halfPixelCenters: true };
    const x = rand(rng, [...c.x]);
    const r = rand(rng, [2, 12, 20, 2]);
    const f = (a: tf.Tensor4D) => tf.sum(tf.mul(tf.image.resizeBilinear(a, c.size, false, true), toTensor(r)));
    const [mine] = read(() => [tf.grad(f as GradFn)(toTensor(x))]);
    assert.ok(relErr(mine!, resizeGradReference('wasm', c, r)) <= TOL);
  });
});

describe('wasm: a small DeepLab-like training step', () => {
  test('conv s2 → BN → relu6 → atrous dw → pointwise → resize: loss falls, tensors do not leak', () => {
    const rng = new Rng(5);
    const v = (shape: number[], s: number) => tf.variable(tf.tidy(() => tf.mul(tf.tensor(rand(rng, shape).data, shape), s)));
    const w1 = v([3, 3, 3, 8], 0.3);
    const wd = v([3, 3, 8, 1], 0.3);
    const wp = v([1, 1, 8, 2], 0.3);
    const gamma = tf.variable(tf.ones([8]));
    const beta = tf.variable(tf.zeros([8]));
    const x = tf.tensor4d(rand(rng, [2, 17, 15, 3]).data, [2, 17, 15, 3]);
    const labels = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.reshape(tf.slice(x, [0, 0, 0, 0], [2, 17, 15, 1]), [2, 17, 15]), 0), 'int32'), 2));
    const opt = tf.train.adam(0.05);
    const step = (): number =>
      tf.tidy(() => {
        const loss = opt.minimize(() => {
          let y: tf.Tensor4D = tf.conv2d(x, w1 as tf.Variable<tf.Rank.R4>, 2, 'same');
          const { mean, variance } = tf.moments(y, [0, 1, 2]);
          y = tf.relu6(tf.batchNorm4d(y, mean as tf.Tensor1D, variance as tf.Tensor1D, beta as tf.Variable<tf.Rank.R1>, gamma as tf.Variable<tf.Rank.R1>, 1e-5));
          y = tf.depthwiseConv2d(y, wd as tf.Variable<tf.Rank.R4>, 1, 'same', 'NHWC', 2);
          y = tf.conv2d(tf.relu(y), wp as tf.Variable<tf.Rank.R4>, 1, 'same');
          const logits = tf.image.resizeBilinear(y, [17, 15], false, true);
          return tf.losses.softmaxCrossEntropy(labels, logits);
        }, true);
        return (loss as tf.Scalar).dataSync()[0]!;
      });
    const first = step();
    const n0 = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 25; i++) last = step();
    assert.equal(tf.memory().numTensors, n0, 'tensor count changed across steps');
    assert.ok(Number.isFinite(last) && last < first * 0.8, `loss ${first} -> ${last}`);
    opt.dispose();
    tf.dispose([w1, wd, wp, gamma, beta, x, labels]);
  });
});
