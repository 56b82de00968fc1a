/**
 * SegLovaszSoftmax (src/backend/kernels/lovasz.ts) against the loss's JavaScript path
 * (src/losses/lovasz_softmax_loss.ts, the reference): bit-identical values and gradients on
 * random inputs with ties, absent classes, ignored pixels, per-image and 'all' modes, with the
 * SIMD variants and without; the generated sort against a stable comparator sort; and that the
 * loss really runs the kernel on wasm and leaves no tensor behind.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { hostFor } from '../../src/backend/kernels/host.js';
import { LOVASZ_SOFTMAX_KERNEL, lovaszModuleFor } from '../../src/backend/kernels/lovasz.js';
import { HIST_SLOTS, INSERTION_MAX, lovaszModuleBytes } from '../../src/backend/kernels/wasm/lovasz_wasm.js';
import { simdSettings } from '../../src/backend/kernels/wasm/runtime.js';
import { lovaszSoftmaxLoss } from '../../src/losses/lovasz_softmax_loss.js';
import type { LossOptions } from '../../src/losses/types.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
});

interface Result {
  value: number;
  grad: Float32Array;
}

function lossAndGrad(logits: tf.Tensor4D, labels: tf.Tensor3D, opts: LossOptions): Result {
  const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => lovaszSoftmaxLoss(x, labels, opts))(logits);
  const r = { value: value.dataSync()[0] as number, grad: grad.dataSync() as Float32Array };
  tf.dispose([value, grad]);
  return r;
}

/** Run `f` with the kernel unregistered (the loss then takes its JavaScript path). */
function withoutKernel<T>(f: () => T): T {
  const k = tf.getKernel(LOVASZ_SOFTMAX_KERNEL, 'wasm');
  assert.ok(k, 'the kernel is registered on wasm');
  tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, 'wasm');
  try {
    return f();
  } finally {
    tf.registerKernel(k);
  }
}

/** Run `f` counting the kernel's calls. */
function countingCalls<T>(f: () => T): { result: T; calls: number } {
  const k = tf.getKernel(LOVASZ_SOFTMAX_KERNEL, 'wasm');
  assert.ok(k);
  let calls = 0;
  tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: (args) => (calls++, k.kernelFunc(args)) });
  try {
    return { result: f(), calls };
  } finally {
    tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, 'wasm');
    tf.registerKernel(k);
  }
}

function assertSame(got: Result, want: Result, what: string): void {
  assert.ok(Object.is(got.value, want.value), `${what}: value ${got.value} vs ${want.value}`);
  assert.equal(got.grad.length, want.grad.length);
  for (let i = 0; i < want.grad.length; i++) {
    if (!Object.is(got.grad[i], want.grad[i])) assert.fail(`${what}: gradient[${i}] = ${got.grad[i]} vs ${want.grad[i]}`);
  }
}

interface Case {
  name: string;
  shape: [number, number, number, number];
  seed: number;
  ignore: number;
  logits: 'normal' | 'levels' | 'repeated' | 'confident' | 'saturated' | 'halves';
  labels: 'random' | 'absent-class' | 'one-class-image' | 'two-classes' | 'all-ignored-image';
}

function makeCase(c: Case): { logits: tf.Tensor4D; labels: tf.Tensor3D } {
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

const CASES: Case[] = [
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
];

const MODES: LossOptions[] = [
  { perImage: false, classes: 'present' },
  { perImage: true, classes: 'present' },
  { perImage: false, classes: 'all' },
  { perImage: true, classes: 'all' },
];

describe('SegLovaszSoftmax = the JavaScript path, bit for bit', () => {
  for (const c of CASES) {
    test(`${c.name} [${c.shape}]`, () => {
      const { logits, labels } = makeCase(c);
      const before = tf.memory().numTensors;
      for (const mode of MODES) {
        const what = `${c.name}, perImage ${mode.perImage}, ${mode.classes}`;
        const want = withoutKernel(() => lossAndGrad(logits, labels, mode));
        assert.ok(Number.isFinite(want.value), `${what}: reference value is finite`);
        for (const simd of [true, false]) {
          simdSettings.enabled = simd;
          try {
            const { result, calls } = countingCalls(() => lossAndGrad(logits, labels, mode));
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
    const want = withoutKernel(() => lossAndGrad(bad, labels2, {}));
    const got = lossAndGrad(bad, labels2, {});
    assert.ok(Number.isNaN(got.value) && Number.isNaN(want.value));
    assertSame(got, want, 'NaN logits');
    tf.dispose([labels, logits, bad, labels2]);
  });
});

describe('the generated sort', () => {
  test('module validates with and without SIMD; the kernel instantiates on the wasm heap', () => {
    for (const simd of [true, false]) {
      const bytes = lovaszModuleBytes(false, simd);
      assert.deepEqual([...bytes.slice(0, 8)], [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
      assert.ok((globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(bytes), `simd ${simd}`);
    }
    const mod = lovaszModuleFor(hostFor(tf.backend()));
    assert.ok(mod?.lz_build_simd && mod.lz_backward_simd, 'SIMD variants are active');
  });

  test('lz_sortwalk (sort only) = stable comparator sort: insertion, one-bucket and many-bucket sizes, ties, skew', () => {
    const h = hostFor(tf.backend());
    const mod = lovaszModuleFor(h);
    assert.ok(mod);
    const rng = new Rng(21);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (const n of [0, 1, 2, INSERTION_MAX, INSERTION_MAX + 1, 300, 5000, 70_000, 300_000]) {
      for (const kind of ['log-uniform', 'ties', 'constant', 'skewed'] as const) {
        const tA = h.allocUninit([2 * n + 2]);
        const tB = h.allocUninit([2 * n + 2]);
        const tH = h.allocUninit([HIST_SLOTS]);
        const tO = h.allocUninit([4]);
        const at = (t: TensorInfo): number => Math.ceil(h.ptr(t) / 8) * 8;
        const [A, B, H, O] = [at(tA), at(tB), at(tH), at(tO)];
        const a = new Uint32Array(h.f32(tA).buffer, A, 2 * n);
        const keys: number[] = [];
        let min = 0xffffffff;
        let max = 0;
        for (let i = 0; i < n; i++) {
          // errors in (0, 1] as the loss makes them; 'skewed': 90% in one narrow range
          let err: number;
          if (kind === 'log-uniform') err = Math.exp(-14 * rng.random());
          else if (kind === 'ties') err = rng.int(1, 5) / 8;
          else if (kind === 'constant') err = 0.25;
          else err = rng.random() < 0.9 ? 0.5 + rng.random() * 1e-4 : rng.random();
          f[0] = err;
          const key = (0x7fffffff - (u[0] as number)) >>> 0;
          keys.push(key);
          a[2 * i] = (rng.random() < 0.2 ? i | 0x80000000 : i) >>> 0;
          a[2 * i + 1] = key;
          min = Math.min(min, key);
          max = Math.max(max, key);
        }
        const tags = Array.from(a.filter((_, k) => k % 2 === 0));
        mod.lz_sortwalk(A, B, n, min >>> 0, max >>> 0, H, 1, 0, 1, O, 0);
        const b = new Uint32Array(h.f32(tB).buffer, B, 2 * n);
        const want = keys.map((_, i) => i).sort((p, q) => (keys[p] as number) - (keys[q] as number) || p - q);
        for (let k = 0; k < n; k++) {
          const i = want[k] as number;
          if (b[2 * k] !== tags[i] || b[2 * k + 1] !== keys[i]) assert.fail(`n=${n} ${kind}: position ${k} holds (${b[2 * k]}, ${b[2 * k + 1]}), expected entry ${i}`);
        }
        for (const t of [tA, tB, tH, tO]) h.dispose(t);
      }
    }
  });
});
