/**
 * seg's fused batch-norm + activation kernels (SegBatchNormActForward/Backward) and the op-layer
 * overrides built on them (fusedOps), against tf.* compositions: values, gradients and the
 * moving-statistics update, on wasm, with the reference computed on the pure-JS cpu backend.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { batchNormAct, type FusedActivation } from '../../src/backend/kernels/batchnorm.js';
import { fusedOps } from '../../src/backend/kernels/fast_ops.js';
import { referenceOps } from '../../src/ops/index.js';
import type { BatchNormParams, ConvNormActOptions } from '../../src/ops/types.js';
import { Rng } from '../../src/util/rng.js';
import { type Arr, rand, relErr } from './helpers.js';

const TOL = 1e-4;

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
  await registerTrainingKernels('cpu');
});

const t = (a: Arr) => tf.tensor(a.data, a.shape);
const arr = (x: tf.Tensor): Arr => ({ shape: [...x.shape], data: Float32Array.from(x.dataSync()) });
type GradFn = (...xs: tf.Tensor[]) => tf.Tensor;

function activate(z: tf.Tensor, act: FusedActivation): tf.Tensor {
  return act === 'relu' ? tf.relu(z) : act === 'relu6' ? tf.relu6(z) : z;
}

/** BN (batch statistics) + activation from tf.* primitives: the reference. */
function composite(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, act: FusedActivation, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return activate(tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b), act);
}

async function onBackend<T>(name: string, f: () => T): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend(name);
  try {
    return f();
  } finally {
    await tf.setBackend(prev);
  }
}

function grads(f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor, x: Arr, g: Arr, b: Arr, r: Arr): { y: Arr; d: Arr[] } {
  const out = tf.tidy(() => {
    const y = f(t(x), t(g), t(b));
    const loss = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(xx, gg, bb), t(r)));
    return [y, ...tf.grads(loss as GradFn)([t(x), t(g), t(b)])];
  });
  const res = { y: arr(out[0]!), d: out.slice(1).map(arr) };
  tf.dispose(out);
  return res;
}

describe('SegBatchNormActForward / Backward vs tf.* composition on cpu', () => {
  const shapes: number[][] = [
    [2, 5, 7, 6],
    [1, 3, 3, 16],
    [4, 2, 2, 5],
  ];
  for (const shape of shapes) {
    for (const act of ['none', 'relu', 'relu6'] as FusedActivation[]) {
      for (const backend of ['wasm', 'cpu']) {
        test(`${backend} [${shape}] ${act}`, async () => {
          const rng = new Rng(shape.reduce((p, q) => p * 7 + q, act.length));
          const C = shape[3]!;
          const x = rand(rng, shape);
          x.data.forEach((v, i) => (x.data[i] = v * 3 + 0.5)); // non-zero mean
          const g = rand(rng, [C]);
          g.data.forEach((v, i) => (g.data[i] = 4 * v + (v >= 0 ? 1 : -1))); // |γ| in (1, 5): z passes 6 and 0
          const b = rand(rng, [C]);
          const r = rand(rng, shape);
          const fused = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
            const res = batchNormAct(xx as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D, act, 1e-3);
            res.mean.dispose();
            res.variance.dispose();
            return res.y;
          };
          const mine = await onBackend(backend, () => grads(fused, x, g, b, r));
          const ref = await onBackend('cpu', () => grads((xx, gg, bb) => composite(xx, gg, bb, act, 1e-3), x, g, b, r));
          assert.ok(relErr(mine.y, ref.y) <= TOL, `y ${relErr(mine.y, ref.y)}`);
          mine.d.forEach((d, i) => assert.ok(relErr(d, ref.d[i]!) <= TOL, `grad ${i}: ${relErr(d, ref.d[i]!)}`));
          if (act === 'relu6') assert.ok(ref.y.data.some((v) => v === 6) && ref.y.data.some((v) => v === 0), 'test data must clip at 0 and 6');
        });
      }
    }
  }

  test('batch statistics are returned (biased variance) and tensors do not leak', () => {
    const rng = new Rng(9);
    const x = rand(rng, [2, 3, 4, 5]);
    const before = tf.memory().numTensors;
    const [y, mean, variance] = tf.tidy(() => {
      const res = batchNormAct(t(x) as tf.Tensor4D, tf.ones([5]) as tf.Tensor1D, tf.zeros([5]) as tf.Tensor1D, 'none', 1e-5);
      return [res.y, res.mean, res.variance];
    });
    const ref = tf.tidy(() => tf.moments(t(x), [0, 1, 2]));
    assert.ok(relErr(arr(mean!), arr(ref.mean)) <= 1e-5);
    assert.ok(relErr(arr(variance!), arr(ref.variance)) <= 1e-5);
    tf.dispose([y!, mean!, variance!, ref.mean, ref.variance]);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('fusedOps vs referenceOps (values, gradients, moving statistics)', () => {
  const cases: Array<{ name: string; depthwise: boolean; k: number; cin: number; cout: number; o: ConvNormActOptions }> = [
    { name: 'convBnAct 3x3 s2 relu6', depthwise: false, k: 3, cin: 3, cout: 8, o: { stride: 2, act: 'relu6', training: true, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'convBnAct 1x1 none', depthwise: false, k: 1, cin: 6, cout: 5, o: { act: 'none', training: true, momentum: 0.99, epsilon: 1e-3 } },
    { name: 'depthwiseBnAct 3x3 dilation 2 relu', depthwise: true, k: 3, cin: 6, cout: 6, o: { dilation: 2, act: 'relu', training: true, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'depthwiseBnAct 3x3 dilation 6 (direct dilated conv) relu', depthwise: true, k: 3, cin: 5, cout: 5, o: { dilation: 6, act: 'relu', training: true, momentum: 0.9, epsilon: 1e-5 } },
    // a per-channel scale before BN has a gradient of ~0 (BN removes the scale) unless ε is large
    { name: 'depthwiseBnAct 3x3 dilation 12 ≥ map (centre tap) relu', depthwise: true, k: 3, cin: 5, cout: 5, o: { dilation: 12, act: 'relu', training: true, momentum: 0.9, epsilon: 1 } },
    { name: 'depthwiseBnAct 3x3 s2 relu6', depthwise: true, k: 3, cin: 4, cout: 4, o: { stride: 2, act: 'relu6', training: true, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'convBnAct inference (delegates)', depthwise: false, k: 1, cin: 4, cout: 3, o: { act: 'relu', training: false, momentum: 0.9, epsilon: 1e-5 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const run = (ops: Partial<typeof referenceOps>) => {
        const rng = new Rng(42);
        const variable = (x: tf.Tensor) => {
          const v = tf.variable(x);
          x.dispose();
          return v;
        };
        const v1 = (a: Arr) => variable(t(a)) as tf.Variable<tf.Rank.R1>;
        const kernel = variable(t(rand(rng, [c.k, c.k, c.cin, c.depthwise ? 1 : c.cout]))) as tf.Variable<tf.Rank.R4>;
        const norm: BatchNormParams = {
          kind: 'bn',
          gamma: v1(rand(rng, [c.cout])),
          beta: v1(rand(rng, [c.cout])),
          movingMean: v1(rand(rng, [c.cout])),
          movingVariance: variable(tf.ones([c.cout])) as tf.Variable<tf.Rank.R1>,
        };
        const x = t(rand(rng, [2, 9, 9, c.cin])) as tf.Tensor4D;
        const side = c.o.stride === 2 ? 5 : 9;
        const r = t(rand(rng, [2, side, side, c.cout]));
        const fn = (c.depthwise ? ops.depthwiseBnAct : ops.convBnAct)!;
        const params = { kernel: kernel as unknown as tf.Tensor4D, norm };
        const vars = [kernel, norm.gamma as tf.Variable, norm.beta as tf.Variable];
        const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(fn(x, params, c.o), r)) as tf.Scalar, vars);
        const res = {
          loss: value.dataSync()[0]!,
          grads: vars.map((v) => arr(g[v.name]!)),
          movingMean: arr(norm.movingMean),
          movingVariance: arr(norm.movingVariance),
        };
        tf.dispose([value, ...Object.values(g), x, r, kernel, norm.gamma, norm.beta, norm.movingMean, norm.movingVariance]);
        return res;
      };
      const n0 = tf.memory().numTensors;
      const ref = run(referenceOps);
      const mine = run(fusedOps);
      assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
      assert.ok(Math.abs(mine.loss - ref.loss) <= TOL * Math.max(1, Math.abs(ref.loss)), `loss ${mine.loss} vs ${ref.loss}`);
      mine.grads.forEach((g, i) => assert.ok(relErr(g, ref.grads[i]!) <= TOL, `grad ${i}: ${relErr(g, ref.grads[i]!)}`));
      assert.ok(relErr(mine.movingMean, ref.movingMean) <= TOL, 'moving mean');
      assert.ok(relErr(mine.movingVariance, ref.movingVariance) <= TOL, 'moving variance');
      if (c.o.training) assert.ok(relErr(mine.movingVariance, { shape: [c.cout], data: new Float32Array(c.cout).fill(1) }) > 1e-3, 'moving statistics were updated');
    });
  }
});

describe('fusedOps inference (batch norm folded into the convolution) vs referenceOps', () => {
  const cases: Array<{ name: string; depthwise: boolean; k: number; cin: number; cout: number; o: ConvNormActOptions }> = [
    { name: 'convBnAct 3x3 s2 relu6', depthwise: false, k: 3, cin: 3, cout: 8, o: { stride: 2, act: 'relu6', training: false, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'convBnAct 1x1 none', depthwise: false, k: 1, cin: 6, cout: 5, o: { act: 'none', training: false, momentum: 0.9, epsilon: 1e-3 } },
    { name: 'convBnAct 3x3 dilation 2 relu (not fused: conv, add, relu)', depthwise: false, k: 3, cin: 4, cout: 3, o: { dilation: 2, act: 'relu', training: false, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'depthwiseBnAct 3x3 relu6', depthwise: true, k: 3, cin: 6, cout: 6, o: { act: 'relu6', training: false, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'depthwiseBnAct 3x3 s2 relu6', depthwise: true, k: 3, cin: 4, cout: 4, o: { stride: 2, act: 'relu6', training: false, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'depthwiseBnAct 3x3 dilation 6 relu', depthwise: true, k: 3, cin: 5, cout: 5, o: { dilation: 6, act: 'relu', training: false, momentum: 0.9, epsilon: 1e-5 } },
    { name: 'depthwiseBnAct 3x3 dilation 12 ≥ map (centre tap) relu', depthwise: true, k: 3, cin: 5, cout: 5, o: { dilation: 12, act: 'relu', training: false, momentum: 0.9, epsilon: 1e-5 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const rng = new Rng(7);
      const kernel = t(rand(rng, [c.k, c.k, c.cin, c.depthwise ? 1 : c.cout])) as tf.Tensor4D;
      const v1 = (x: tf.Tensor) => tf.variable(x) as tf.Variable<tf.Rank.R1>;
      const norm: BatchNormParams = {
        kind: 'bn',
        gamma: v1(t(rand(rng, [c.cout]))),
        beta: v1(t(rand(rng, [c.cout]))),
        movingMean: v1(t(rand(rng, [c.cout]))),
        movingVariance: v1(tf.add(tf.abs(t(rand(rng, [c.cout]))), 0.1)),
      };
      const x = t(rand(rng, [2, 9, 9, c.cin])) as tf.Tensor4D;
      const n0 = tf.memory().numTensors;
      const apply = (ops: Partial<typeof referenceOps>): Arr => {
        const y = (c.depthwise ? ops.depthwiseBnAct : ops.convBnAct)!(x, { kernel, norm }, c.o);
        const a = arr(y);
        y.dispose();
        return a;
      };
      const ref = apply(referenceOps);
      const mine = apply(fusedOps);
      assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
      assert.deepEqual(mine.shape, ref.shape);
      assert.ok(relErr(mine, ref) <= TOL, `${relErr(mine, ref)}`);
      tf.dispose([kernel, norm.gamma, norm.beta, norm.movingMean, norm.movingVariance, x]);
    });
  }
});

describe('fusedOps.resizeBilinear (the backend kernels, seg ResizeBilinearGrad) vs referenceOps (interpolation matrices)', () => {
  const cases: Array<{ from: [number, number]; to: [number, number]; c: number }> = [
    { from: [4, 4], to: [16, 16], c: 5 },
    { from: [5, 7], to: [17, 9], c: 3 },
    { from: [12, 10], to: [5, 4], c: 2 },
    { from: [1, 1], to: [6, 3], c: 4 },
    { from: [6, 6], to: [6, 6], c: 2 },
  ];
  for (const c of cases) {
    test(`${c.from.join('x')} → ${c.to.join('x')}, ${c.c} channels: values and gradient`, () => {
      const rng = new Rng(11);
      const x = rand(rng, [2, ...c.from, c.c]);
      const r = rand(rng, [2, ...c.to, c.c]);
      const run = (ops: Partial<typeof referenceOps>): Arr[] => {
        const out = tf.tidy(() => {
          const f = (xx: tf.Tensor) => ops.resizeBilinear!(xx as tf.Tensor4D, c.to);
          return [f(t(x)), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx), t(r))))(t(x))];
        });
        const res = out.map(arr);
        tf.dispose(out);
        return res;
      };
      const n0 = tf.memory().numTensors;
      const [refY, refD] = run(referenceOps) as [Arr, Arr];
      const [y, d] = run(fusedOps) as [Arr, Arr];
      assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
      assert.deepEqual(y.shape, refY.shape);
      assert.ok(relErr(y, refY) <= TOL, `values ${relErr(y, refY)}`);
      assert.ok(relErr(d, refD) <= TOL, `gradient ${relErr(d, refD)}`);
    });
  }
});

test('SegMovingStats: the bits of the tf.mul/tf.add moving-statistics update (ops/norm.ts)', () => {
  const rng = new Rng(5);
  const C = 29;
  const [mm, mv, m, v] = [rand(rng, [C]), rand(rng, [C]), rand(rng, [C]), rand(rng, [C])].map(t);
  for (const momentum of [0.9, 0.99, 0.1]) {
    const got = tf.engine().runKernel('SegMovingStats', { movingMean: mm!, movingVariance: mv!, mean: m!, variance: v! }, { momentum }) as tf.Tensor[];
    const want = [tf.add(tf.mul(mm!, momentum), tf.mul(m!, 1 - momentum)), tf.add(tf.mul(mv!, momentum), tf.mul(v!, 1 - momentum))];
    got.forEach((g, i) => assert.deepEqual(Array.from(g.dataSync()), Array.from(want[i]!.dataSync()), `output ${i}, momentum ${momentum}`));
    tf.dispose([...got, ...want]);
  }
  tf.dispose([mm!, mv!, m!, v!]);
});

test('fusedOps.inferenceScope: batch norm folded once, the same values, refolded when a weight changes, nothing kept after the scope', async () => {
  const rng = new Rng(17);
  const o: ConvNormActOptions = { act: 'relu6', training: false, momentum: 0.9, epsilon: 1e-5 };
  const kernel = tf.variable(t(rand(rng, [3, 3, 4, 6]))) as tf.Variable<tf.Rank.R4>;
  const vector = (positive: boolean) => tf.tidy(() => tf.variable(positive ? tf.add(tf.abs(t(rand(rng, [6]))), 0.5) : t(rand(rng, [6])))) as unknown as tf.Variable<tf.Rank.R1>;
  const norm = { kind: 'bn' as const, gamma: vector(true), beta: vector(false), movingMean: vector(false), movingVariance: vector(true) };
  const x = t(rand(rng, [2, 7, 7, 4])) as tf.Tensor4D;
  const apply = (): Float32Array => {
    const y = fusedOps.convBnAct!(x, { kernel, norm }, o);
    const v = Float32Array.from(y.dataSync());
    y.dispose();
    return v;
  };
  const outside = apply();
  const n0 = tf.memory().numTensors;
  let kept = 0;
  const inside = await fusedOps.inferenceScope!(async () => {
    const first = apply();
    kept = tf.memory().numTensors - n0;
    assert.deepEqual(apply(), first, 'the kept fold gives the same values');
    assert.equal(tf.memory().numTensors - n0, kept, 'folded once, not once per pass');
    // a changed weight (training between evaluations does this) is seen at once
    const variance = tf.clone(norm.movingVariance);
    tf.tidy(() => norm.movingVariance.assign(tf.mul(variance, 4)));
    const changed = apply();
    norm.movingVariance.assign(variance);
    variance.dispose();
    assert.notDeepEqual(changed, first);
    // inside a gradient the fold is recorded: the kernel gets a gradient
    const g = tf.grad((k: tf.Tensor) => tf.sum(fusedOps.convBnAct!(x, { kernel: k as tf.Tensor4D, norm }, o)))(kernel);
    assert.ok(tf.tidy(() => g.abs().sum().dataSync()[0]!) > 0);
    g.dispose();
    return first;
  });
  assert.equal(kept, 2, 'the folded kernel and bias');
  assert.deepEqual(inside, outside, 'the same bits as without the scope');
  assert.equal(tf.memory().numTensors, n0, 'the scope disposed what it kept');
  tf.dispose([kernel, norm.gamma, norm.beta, norm.movingMean, norm.movingVariance, x]);
});
