/**
 * SegOptimizerStep (one kernel per variable update) against seg's own tf.*-based optimiser
 * (src/train/optimizer.ts): three Adam / SGD steps with weight decay, on wasm (SIMD and JS loop)
 * and cpu, weights and slots equal to 1e-5.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { optimizerStep } from '../../src/backend/kernels/optimizer.js';
import { simdSettings } from '../../src/backend/kernels/wasm/runtime.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { Rng } from '../../src/util/rng.js';
import { rand, relErr } from './helpers.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
  await registerTrainingKernels('cpu');
});

const arr = (t: tf.Tensor) => ({ shape: [...t.shape], data: Float32Array.from(t.dataSync()) });

for (const kind of ['adam', 'sgd'] as const) {
  for (const [backend, simd] of [['wasm', true], ['wasm', false], ['cpu', false]] as const) {
    test(`${kind} on ${backend}${simd ? ' (SIMD)' : ''}: 3 steps equal src/train/optimizer.ts`, async () => {
      await tf.setBackend(backend);
      simdSettings.enabled = simd;
      try {
        const n0 = tf.memory().numTensors;
        const rng = new Rng(kind === 'adam' ? 1 : 2);
        const shape = [3, 5, 7]; // 105 values: the SIMD loop and its scalar tail
        const w0 = rand(rng, shape);
        const grads = [rand(rng, shape), rand(rng, shape), rand(rng, shape)];
        const opts = { name: kind, momentum: 0.9, momentum2: 0.999, weightDecay: 4e-5, epsilon: 1e-8 };
        const lr = 0.01;
        // reference: seg's optimiser
        const w0t = tf.tensor(w0.data, shape);
        const wRef = tf.variable(w0t);
        w0t.dispose();
        const ref = new Optimizer(opts, [{ name: 'w', variable: wRef }]);
        for (const g of grads) {
          const gt = tf.tensor(g.data, shape);
          ref.apply(new Map([['w', gt]]), lr);
          gt.dispose();
        }
        const refSlots = ref.state().slots.map((s) => arr(s.tensor));
        // kernel
        let w = tf.tensor(w0.data, shape);
        let m = tf.zeros(shape);
        let v: tf.Tensor | undefined = kind === 'adam' ? tf.zeros(shape) : undefined;
        grads.forEach((g, i) => {
          const t = i + 1;
          const gt = tf.tensor(g.data, shape);
          const out = optimizerStep(w, gt, m, v, {
            kind,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            bc1: 1 - 0.9 ** t,
            bc2: 1 - 0.999 ** t,
            weightDecay: 4e-5,
          });
          tf.dispose([w, m, gt, ...(v ? [v] : [])]);
          w = out.w;
          m = out.m;
          v = out.v;
        });
        assert.ok(relErr(arr(w), arr(wRef)) <= 1e-5, `w: ${relErr(arr(w), arr(wRef))}`);
        assert.ok(relErr(arr(m), refSlots[0]!) <= 1e-5, `m: ${relErr(arr(m), refSlots[0]!)}`);
        if (v) assert.ok(relErr(arr(v), refSlots[1]!) <= 1e-5, `v: ${relErr(arr(v), refSlots[1]!)}`);
        tf.dispose([w, m, ...(v ? [v] : []), wRef]);
        ref.dispose();
        assert.equal(tf.memory().numTensors, n0);
      } finally {
        simdSettings.enabled = true;
        await tf.setBackend('wasm');
      }
    });
  }
}
