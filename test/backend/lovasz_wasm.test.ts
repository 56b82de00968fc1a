/**
 * SegLovaszSoftmax (src/backend/kernels/lovasz.ts) on wasm against the loss's JavaScript path
 * (src/losses/lovasz_softmax_loss.ts, the reference): bit-identical values and gradients on
 * random inputs with ties, absent classes, ignored pixels, per-image and 'all' modes, with the
 * SIMD variants and without (the cases of lovasz_cases.ts, shared with lovasz_torch.test.ts); the
 * generated sort against a stable comparator sort; that the loss really runs the kernel on wasm and
 * leaves no tensor behind; and that on the threaded build (the default here) a helper thread takes
 * some of the per-class sorts, with results bit-identical to this thread alone.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { hostFor } from '../../src/backend/kernels/host.js';
import { lovaszKernelProfile, lovaszModuleFor, lovaszThreads } from '../../src/backend/kernels/lovasz.js';
import { HIST_SLOTS, INSERTION_MAX, lovaszModuleBytes } from '../../src/backend/kernels/wasm/lovasz_wasm.js';
import { Rng } from '../../src/util/rng.js';
import { assertSame, equivalenceSuite, lossAndGrad, makeCase } from './lovasz_cases.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
});

equivalenceSuite('wasm', { skip: false });

test('threaded build: a helper thread takes per-class sorts and halves of the compaction and the Jacobian pass; the same bits as one thread', async () => {
  const memory = hostFor(tf.backend()).wasmMemory() as { buffer: unknown };
  assert.ok(memory.buffer instanceof SharedArrayBuffer, 'the test runs on the threaded build');
  const { logits, labels } = makeCase({ name: 'helper', shape: [2, 96, 96, 21], seed: 31, ignore: 0.03, logits: 'normal', labels: 'random' });
  for (const mode of [{ perImage: false }, { perImage: true, classes: 'all' as const }]) {
    lovaszThreads.enabled = false;
    const alone = lossAndGrad(logits, labels, mode);
    lovaszThreads.enabled = true;
    // the helper starts at the first call and takes jobs once it is ready (the calls before run alone)
    let both = lossAndGrad(logits, labels, mode);
    let ran = false;
    for (let t = 0; t < 100 && !ran; t++) {
      const [jobs, ranges] = [lovaszKernelProfile.helperJobs, lovaszKernelProfile.helperRanges];
      both = lossAndGrad(logits, labels, mode);
      ran = lovaszKernelProfile.helperJobs > jobs && lovaszKernelProfile.helperRanges > ranges;
      if (!ran) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ran, 'the helper ran no sort or no range pass within 5 s');
    assertSame(both, alone, JSON.stringify(mode));
  }
  tf.dispose([logits, labels]);
});

describe('the generated sort', () => {
  test('module validates with and without SIMD; the kernel instantiates on the wasm heap', () => {
    for (const simd of [true, false]) {
      const bytes = lovaszModuleBytes(false, simd);
      assert.deepEqual([...bytes.slice(0, 8)], [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
      assert.ok((globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(bytes), `simd ${simd}`);
    }
    const mod = lovaszModuleFor(hostFor(tf.backend()));
    assert.ok(mod?.exports.lz_build_simd && mod.exports.lz_backward_simd, 'SIMD variants are active');
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
        mod.exports.lz_sortwalk(A, B, n, min >>> 0, max >>> 0, H, 1, 0, 1, O, 0);
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
