/**
 * The equivalence cases of SegLovaszSoftmax (src/backend/kernels/lovasz.ts) against the loss's
 * JavaScript path (src/losses/lovasz_softmax_loss.ts, the reference), shared by the backends the
 * kernel is registered on (lovasz_wasm.test.ts, lovasz_torch.test.ts): random inputs with ties,
 * absent classes, ignored pixels, per-image and 'all' modes; values and gradients compared bit for
 * bit (Object.is).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { LOVASZ_SOFTMAX_KERNEL } from '../../src/backend/kernels/lovasz.js';
import { simdSettings } from '../../src/backend/kernels/wasm/runtime.js';
import { lovaszSoftmaxLoss } from '../../src/losses/lovasz_softmax_loss.js';
import type { LossOptions } from '../../src/losses/types.js';
import { Rng } from '../../src/util/rng.js';

export interface Result {
  value: number;
  grad: Float32Array;
}

export function lossAndGrad(logits: tf.Tensor4D, labels: tf.Tensor3D, opts: LossOptions): Result {
  const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => lovaszSoftmaxLoss(x, labels, opts))(logits);
  const r = { value: value.dataSync()[0] as number, grad: grad.dataSync() as Float32Array };
  tf.dispose([value, grad]);
  return r;
}

/** Run `f` with the kernel unregistered for `backend` (the loss then takes its JavaScript path). */
export function withoutKernel<T>(backend: string, f: () => T): T {
  const k = tf.getKernel(LOVASZ_SOFTMAX_KERNEL, backend);
  assert.ok(k, `the kernel is registered on ${backend}`);
  tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, backend);
  try {
    return f();
  } finally {
    tf.registerKernel(k);
  }
}

/** Run `f` counting the kernel's calls on `backend`; `around` wraps each call (extra checks). */
export function countingCalls<T>(backend: string, f: () => T, around: <R>(call: () => R) => R = (call) => call()): { result: T; calls: number } {
  const k = tf.getKernel(LOVASZ_SOFTMAX_KERNEL, backend);
  assert.ok(k);
  let calls = 0;
  tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, backend);
  tf.registerKernel({ ...k, kernelFunc: (args) => (calls++, around(() => k.kernelFunc(args))) });
  try {
    return { result: f(), calls };
  } finally {
    tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, backend);
    tf.registerKernel(k);
  }
}

export function assertSame(got: Result, want: Result, what: string): void {
  assert.ok(Object.is(got.value, want.value), `${what}: value ${got.value} vs ${want.value}`);
  assert.equal(got.grad.length, want.grad.length);
  for (let i = 0; i < want.grad.length; i++) {
    if (!Object.is(got.grad[i], want.grad[i])) assert.fail(`${what}: gradient[${i}] = ${got.grad[i]} vs ${want.grad[i]}`);
  }
}

export interface Case {
  name: string;
  shape: [number, number, number, number];
  seed: number;
  ignore: number;
  logits: 'normal' | 'narrow' | 'levels' | 'repeated' | 'confident' | 'saturated' | 'halves';
  labels: 'random' | 'absent-class' | 'one-class-image' | 'two-classes' | 'all-ignored-image';
}

export function makeCase(c: Case): { logits: tf.Tensor4D; labels: tf.Tensor3D } {
  const [N, H, W, C] = c.shape;
  const rng = new Rng(c.seed);
  const P = N * H * W;
  const labels = new Int32Array(P);
  for (let j = 0; j < P; j++) {
    let y = rng.int(0, C - 1);
    if (c.labels === 'absent-class' && y === C - 1) y = 0;
    if (c.labels === 'one-class-image' && j < H * W) y = 1;
    if (c.labels === 'two-classes') y = y % 2;
    labels[j] = rng.random() < c.ignore || (c.labels === 'all-ignored-image' && j < H * W) ? 255 : y;
  }
  const base = Array.from({ length: 4 * C }, () => 2 * rng.normal());
  const logits = new Float32Array(P * C);
  for (let j = 0; j < P; j++) {
    const pick = rng.int(0, 3);
    for (let k = 0; k < C; k++) {
      const i = j * C + k;
      const y = labels[j] as number;
      if (c.logits === 'normal') logits[i] = 2 * rng.normal();
      else if (c.logits === 'narrow') logits[i] = 0.05 * rng.normal(); // errors packed into a few narrow key ranges
      else if (c.logits === 'levels') logits[i] = rng.int(-3, 3) * 0.5;
      else if (c.logits === 'repeated') logits[i] = base[pick * C + k] as number;
      else if (c.logits === 'halves') logits[i] = k === 0 && pick < 2 ? 1 : 0;
      // 'saturated': p = 1 exactly for most labelled classes (errors 0, background p = 0)
      else if (c.logits === 'saturated') logits[i] = k === y ? 120 + rng.normal() : rng.normal() * 30;
      else logits[i] = (k === y && rng.random() < 0.9 ? 4 : 0) + 2 * rng.normal();
    }
  }
  return { logits: tf.tensor4d(logits, [N, H, W, C]), labels: tf.tensor3d(labels, [N, H, W], 'int32') };
}

export const CASES: Case[] = [
  { name: 'small, 10% ignored', shape: [2, 11, 13, 5], seed: 1, ignore: 0.1, logits: 'normal', labels: 'random' },
  { name: 'ties (logits on 7 levels)', shape: [3, 9, 10, 4], seed: 2, ignore: 0.1, logits: 'levels', labels: 'random' },
  { name: 'ties (4 distinct logit vectors)', shape: [2, 20, 20, 3], seed: 3, ignore: 0.05, logits: 'repeated', labels: 'random' },
  { name: 'foreground and background errors tie at 0.5', shape: [2, 8, 8, 2], seed: 4, ignore: 0.1, logits: 'halves', labels: 'random' },
  { name: 'absent class', shape: [2, 16, 16, 6], seed: 5, ignore: 0.05, logits: 'normal', labels: 'absent-class' },
  { name: 'an image of one class', shape: [2, 12, 13, 3], seed: 6, ignore: 0.1, logits: 'normal', labels: 'one-class-image' },
  { name: 'an image fully ignored', shape: [3, 10, 10, 4], seed: 7, ignore: 0.1, logits: 'normal', labels: 'all-ignored-image' },
  { name: 'trained-like logits, 21 classes', shape: [2, 40, 40, 21], seed: 8, ignore: 0.03, logits: 'confident', labels: 'random' },
  { name: 'saturated softmax (p = 1 and p = 0)', shape: [2, 24, 24, 5], seed: 9, ignore: 0.05, logits: 'saturated', labels: 'random' },
  { name: 'two of six classes present', shape: [1, 30, 30, 6], seed: 10, ignore: 0, logits: 'normal', labels: 'two-classes' },
  { name: 'large pooled set (16-bit digits, many buckets)', shape: [1, 200, 200, 4], seed: 11, ignore: 0.02, logits: 'normal', labels: 'random' },
  { name: 'no ignored pixel, odd sizes', shape: [3, 7, 5, 3], seed: 12, ignore: 0, logits: 'normal', labels: 'random' },
  { name: 'one pixel', shape: [1, 1, 1, 3], seed: 13, ignore: 0, logits: 'normal', labels: 'random' },
  // The sort's buckets of every kind: errors spread over ~20 binades (as bench/lovasz_share.ts's
  // inputs; sparse bins grouped, small buckets sorted by insertion), and packed into narrow ranges
  // (dense bins, buckets of 8-bit and of 17-18-bit keys).
  { name: 'bench-like: 21 classes, logits 2·N(0, 1)', shape: [2, 128, 128, 21], seed: 23, ignore: 0.03, logits: 'normal', labels: 'random' },
  { name: 'errors packed into narrow ranges', shape: [2, 192, 192, 2], seed: 24, ignore: 0.03, logits: 'narrow', labels: 'random' },
];

export const MODES: LossOptions[] = [
  { perImage: false, classes: 'present' },
  { perImage: true, classes: 'present' },
  { perImage: false, classes: 'all' },
  { perImage: true, classes: 'all' },
];

/** Options of equivalenceSuite. */
export interface SuiteOptions {
  /** The node:test `skip` option (a reason, or false). */
  skip: string | false;
  /** Wraps every kernel call (e.g. to check what it does to the backend). */
  around?: <R>(call: () => R) => R;
  /** A count of backend resources that must be the same after each case as before (beyond tf.memory()). */
  held?: () => number;
}

/**
 * The kernel as registered for `backend` (the active backend when the tests run) against the loss's
 * JavaScript path on the same backend, bit for bit, on every case and mode, with and without the
 * SIMD variants; and the loss really runs the kernel and leaves nothing behind.
 */
export function equivalenceSuite(backend: string, o: SuiteOptions): void {
  describe(`SegLovaszSoftmax = the JavaScript path, bit for bit [${backend}]`, { skip: o.skip }, () => {
    for (const c of CASES) {
      test(`${c.name} [${c.shape}]`, () => {
        const { logits, labels } = makeCase(c);
        const before = tf.memory().numTensors;
        const held = o.held?.();
        for (const mode of MODES) {
          const what = `${c.name}, perImage ${mode.perImage}, ${mode.classes}`;
          const want = withoutKernel(backend, () => lossAndGrad(logits, labels, mode));
          assert.ok(Number.isFinite(want.value), `${what}: reference value is finite`);
          for (const simd of [true, false]) {
            simdSettings.enabled = simd;
            try {
              const { result, calls } = countingCalls(backend, () => lossAndGrad(logits, labels, mode), o.around);
              assert.equal(calls, 1, `${what}: the loss ran the kernel`);
              assertSame(result, want, `${what}, ${simd ? 'SIMD' : 'scalar'}`);
            } finally {
              simdSettings.enabled = true;
            }
          }
          // without a gradient being recorded (evaluation): the same value
          const v = tf.tidy(() => lovaszSoftmaxLoss(logits, labels, mode).dataSync()[0] as number);
          assert.ok(Object.is(v, want.value), `${what}: value without gradient`);
        }
        assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
        assert.equal(o.held?.(), held, 'no backend resource left behind');
        tf.dispose([logits, labels]);
      });
    }

    test('every pixel ignored: 0 and a zero gradient; NaN logits: NaN, as the JavaScript path', () => {
      const labels = tf.fill([2, 3, 4], 255, 'int32') as tf.Tensor3D;
      const logits = tf.randomNormal([2, 3, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const r = lossAndGrad(logits, labels, {});
      assert.equal(r.value, 0);
      assert.ok(r.grad.every((g) => g === 0));
      const bad = tf.tidy(() => tf.where(tf.equal(tf.reshape(tf.range(0, 72), [2, 3, 4, 3]), 7), tf.fill([2, 3, 4, 3], NaN), logits)) as tf.Tensor4D;
      const labels2 = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i % 3), [2, 3, 4], 'int32');
      const want = withoutKernel(backend, () => lossAndGrad(bad, labels2, {}));
      const got = lossAndGrad(bad, labels2, {});
      assert.ok(Number.isNaN(got.value) && Number.isNaN(want.value));
      assertSame(got, want, 'NaN logits');
      tf.dispose([labels, logits, bad, labels2]);
    });
  });
}
