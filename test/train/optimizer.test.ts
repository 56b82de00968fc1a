import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { Optimizer } from '../../src/train/optimizer.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

const near = (actual: ArrayLike<number>, expected: number[], tol = 1e-6): void => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs((actual[i] as number) - (expected[i] as number)) <= tol * Math.max(1, Math.abs(expected[i] as number)), `[${i}] ${actual[i]} != ${expected[i]}`);
  }
};

test('sgd with momentum and coupled L2, two steps by hand', () => {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const opt = new Optimizer({ name: 'sgd', momentum: 0.9, momentum2: 0.999, weightDecay: 0.01 }, [{ name: 'w', variable: w }]);
  const g = tf.tensor1d([0.5, 1]);
  opt.apply(new Map([['w', g]]), 0.1);
  near(w.dataSync(), [0.949, -2.098]);
  opt.apply(new Map([['w', g]]), 0.1);
  // g' = g + 0.01·w = [0.50949, 0.97902]; v = 0.9·[0.51, 0.98] + g' = [0.96849, 1.86102]
  near(w.dataSync(), [0.949 - 0.096849, -2.098 - 0.186102]);
  g.dispose();
  opt.dispose();
  w.dispose();
});

test('adam: bias-corrected moments, by hand in float64', () => {
  const w0 = [1, -2, 0.5];
  const grads = [[0.5, 1, -0.2], [0.1, -0.3, 0.4]];
  const w = tf.variable(tf.tensor1d(w0));
  const opt = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 0.001 }, [{ name: 'w', variable: w }]);
  const ref = [...w0];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  grads.forEach((gs, k) => {
    const t = k + 1;
    for (let i = 0; i < 3; i++) {
      const g = (gs[i] as number) + 0.001 * (ref[i] as number);
      m[i] = 0.9 * (m[i] as number) + 0.1 * g;
      v[i] = 0.999 * (v[i] as number) + 0.001 * g * g;
      const mh = (m[i] as number) / (1 - 0.9 ** t);
      const vh = (v[i] as number) / (1 - 0.999 ** t);
      ref[i] = (ref[i] as number) - (0.05 * mh) / (Math.sqrt(vh) + 1e-8);
    }
    const gt = tf.tensor1d(gs);
    opt.apply(new Map([['w', gt]]), 0.05);
    gt.dispose();
    near(w.dataSync(), ref, 2e-6);
  });
  assert.equal(opt.step, 2);
  opt.dispose();
  w.dispose();
});

test('state()/load() continue exactly where the optimiser stopped; decays() exempts weights', () => {
  const run = (split: boolean): Float32Array => {
    const a = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
    const b = tf.tidy(() => tf.variable(tf.tensor1d([3])));
    const params = [{ name: 'a', variable: a }, { name: 'head/bn/gamma', variable: b }];
    const opts = { name: 'adam' as const, momentum: 0.9, momentum2: 0.99, weightDecay: 0.1, decays: (n: string) => !n.endsWith('gamma') };
    let opt = new Optimizer(opts, params);
    for (let k = 0; k < 4; k++) {
      if (split && k === 2) {
        const st = opt.state();
        const saved = st.slots.map((s) => ({ name: s.name, tensor: s.tensor.clone() }));
        opt.dispose();
        opt = new Optimizer(opts, params);
        opt.load(st.step, saved);
        saved.forEach((s) => s.tensor.dispose());
      }
      const ga = tf.tensor1d([0.1 * (k + 1), -0.2]);
      const gb = tf.tensor1d([0.3]);
      opt.apply(new Map([['a', ga], ['head/bn/gamma', gb]]), 0.01);
      tf.dispose([ga, gb]);
    }
    const out = new Float32Array([...a.dataSync(), ...b.dataSync()]);
    opt.dispose();
    tf.dispose([a, b]);
    return out;
  };
  const before0 = tf.memory().numTensors;
  assert.deepEqual(run(true), run(false));
  assert.equal(tf.memory().numTensors, before0, 'no tensors leaked');
});

test('no tensors leak per step', () => {
  const w = tf.variable(tf.randomNormal([4, 4]));
  const opt = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 4e-5 }, [{ name: 'w', variable: w }]);
  const g = tf.randomNormal([4, 4]);
  opt.apply(new Map([['w', g]]), 0.1);
  const n = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.apply(new Map([['w', g]]), 0.1);
  assert.equal(tf.memory().numTensors, n);
  tf.dispose([g, w]);
  opt.dispose();
});

test('two optimisers over the same weight names can live in one process', () => {
  const w = tf.tidy(() => tf.variable(tf.ones([2])));
  const a = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 0 }, [{ name: 'w', variable: w }]);
  const b = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 0 }, [{ name: 'w', variable: w }]);
  assert.equal(a.state().slots.length, b.state().slots.length);
  a.dispose();
  b.dispose();
  w.dispose();
});
