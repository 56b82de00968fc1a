/**
 * SegLovaszSoftmax on the native (`torch`) backend: the addon's kernel (native/seg-torch/src/lovasz.cc)
 * against the loss's JavaScript path on the same backend, bit for bit, on the cases of
 * lovasz_wasm.test.ts (lovasz_cases.ts) and on a set large enough for the kernel's parallel paths;
 * that it reads libtorch-held probabilities without JavaScript copies, gives the same outputs for
 * JavaScript-held and libtorch-held inputs and leaves no tensor behind; and that cpu stays without
 * it (the JavaScript reference).
 *
 * Skipped, with the reason, when the addon is not installed (it is an optionalDependency).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { LOVASZ_SOFTMAX_KERNEL } from '../../src/backend/kernels/lovasz.js';
import { TORCH_BACKEND } from '../../src/backend/native/index.js';
import { Rng } from '../../src/util/rng.js';
import { CASES, MODES, assertSame, countingCalls, equivalenceSuite, lossAndGrad, makeCase, withoutKernel } from './lovasz_cases.js';
import { SKIP_NATIVE, activateTorch, f32, i32, runTorch, torchBackend } from './native_helpers.js';

const skip = SKIP_NATIVE;

before(async () => {
  if (!skip) await activateTorch();
});

test('SegLovaszSoftmax is registered on torch, not on cpu', { skip }, () => {
  assert.ok(tf.getKernel(LOVASZ_SOFTMAX_KERNEL, TORCH_BACKEND));
  assert.equal(tf.getKernel(LOVASZ_SOFTMAX_KERNEL, 'cpu'), undefined);
});

/** Each kernel call makes no JavaScript copy of a libtorch tensor (the probabilities are read into the heap). */
function noMaterialisation<R>(call: () => R): R {
  const tb = torchBackend();
  const m0 = tb.materialisations;
  const r = call();
  assert.equal(tb.materialisations, m0, 'the kernel copied a libtorch tensor into JavaScript');
  return r;
}

equivalenceSuite(TORCH_BACKEND, { skip, around: noMaterialisation, held: () => torchBackend().addon.stats()[0] });

test('the kernel alone: the same outputs for JavaScript-held and libtorch-held inputs, nothing left behind', { skip }, () => {
  const rng = new Rng(31);
  const [N, H, W, C] = [2, 9, 11, 5];
  const P = N * H * W;
  const logits = Float32Array.from({ length: P * C }, () => 3 * rng.normal());
  const labels = Int32Array.from({ length: P }, () => (rng.random() < 0.1 ? 255 : rng.int(0, C - 1)));
  const inputs = { logits: f32([N, H, W, C], logits), labels: i32([N, H, W], labels) };
  for (const perImage of [false, true]) {
    const attrs = { ignoreIndex: 255, perImage, classes: 'present', gradient: true };
    const js = runTorch(LOVASZ_SOFTMAX_KERNEL, inputs, attrs);
    const native = runTorch(LOVASZ_SOFTMAX_KERNEL, inputs, attrs, true);
    assert.equal(js.length, 2);
    assert.deepEqual(js[0]?.shape, []);
    assert.deepEqual(js[1]?.shape, [N, H, W, C]);
    assert.ok(Number.isFinite(js[0]?.data[0]) && (js[0]?.data[0] as number) > 0);
    assert.deepEqual(native, js);
  }
});

test('a large pooled set (both threads count it; MSD buckets with digit passes), and per image', { skip }, () => {
  // 2 × 192² = 73 728 pixels: the pooled set is counted in two halves and most classes' candidates
  // go through the bucket pass; labels of every class, 2% ignored, two classes absent in 'all' mode.
  for (const labels of ['random', 'absent-class'] as const) {
    const c = makeCase({ name: 'large', shape: [2, 192, 192, 8], seed: 21, ignore: 0.02, logits: 'confident', labels });
    for (const mode of [{ perImage: false, classes: 'present' as const }, { perImage: true, classes: 'all' as const }]) {
      const want = withoutKernel(TORCH_BACKEND, () => lossAndGrad(c.logits, c.labels, mode));
      const { result, calls } = countingCalls(TORCH_BACKEND, () => lossAndGrad(c.logits, c.labels, mode), noMaterialisation);
      assert.equal(calls, 1);
      assertSame(result, want, `${labels}, ${JSON.stringify(mode)}`);
    }
    tf.dispose([c.logits, c.labels]);
  }
});

test('the portable loops (AVX2 off: candidate scan, softmax) give the same bits as the JavaScript path', { skip }, () => {
  const addon = torchBackend().addon;
  const large = { name: 'large', shape: [2, 96, 96, 8] as [number, number, number, number], seed: 22, ignore: 0.03, logits: 'normal' as const, labels: 'random' as const };
  for (const c of [...CASES, large]) {
    const { logits, labels } = makeCase(c);
    for (const mode of MODES) {
      const want = withoutKernel(TORCH_BACKEND, () => lossAndGrad(logits, labels, mode));
      const previous = addon.avx2(false);
      try {
        const { result, calls } = countingCalls(TORCH_BACKEND, () => lossAndGrad(logits, labels, mode));
        assert.equal(calls, 1);
        assertSame(result, want, `${c.name}, ${JSON.stringify(mode)}, AVX2 off`);
      } finally {
        addon.avx2(previous);
      }
    }
    tf.dispose([logits, labels]);
  }
});
