/**
 * The native (`torch`) backend's kernels (src/backend/native/kernels.ts, libtorch through
 * native/seg-torch) against the stock tfjs cpu kernels (or, for seg's own kernels, seg's cpu
 * versions), on random inputs of several shapes; each with its inputs held by JavaScript and again
 * held by libtorch. Values to 1e-4 (max-norm relative), integer and bool results exactly.
 * Convolution gradients as in kernels_cpu.test.ts: the stock backprop kernels (dilation 1), the
 * stock kernels on the zero-expanded filter (dilation > 1), and the adjoint identities.
 *
 * Skipped, with the reason, when the addon is not installed (it is an optionalDependency).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap } from '@tensorflow/tfjs-core';
import { stockKernel } from '../../src/backend/kernels/index.js';
import { NATIVE_KERNELS, TORCH_BACKEND } from '../../src/backend/native/index.js';
import { Rng } from '../../src/util/rng.js';
import { DENSE_CASES, DEPTHWISE_CASES, RESIZE_CASES, type ConvCase } from './cases.js';
import { contractFilter, expandFilter } from './helpers.js';
import { type TArr, NATIVE_PROBLEM, REQUIRE_NATIVE, SKIP_NATIVE, dot, f32, i32, rel, runCpu, runTorch, setupTorch, sumAbsProd, torchBackend } from './native_helpers.js';

const TOL = 1e-4;
const skip = SKIP_NATIVE;

test('the torch backend is installed where SEG_REQUIRE_TORCH=1 asks for it', { skip: REQUIRE_NATIVE ? false : 'SEG_REQUIRE_TORCH is not 1' }, () => {
  assert.equal(NATIVE_PROBLEM, '', `seg-torch does not load: ${NATIVE_PROBLEM}`);
});

before(async () => {
  if (!skip) await setupTorch();
});

function seedOf(name: string): number {
  let h = 17;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

function randArr(rng: Rng, shape: number[], lo = -1, hi = 1): TArr {
  const n = shape.reduce((a, b) => a * b, 1);
  return f32(shape, Float32Array.from({ length: n }, () => rng.uniform(lo, hi)));
}

const asArr = (a: { shape: number[]; data: Float32Array }): TArr => f32(a.shape, a.data);

function stock(name: string): KernelFunc {
  const k = stockKernel(name, 'cpu');
  if (!k) throw new Error(`no stock ${name} on cpu`);
  return k;
}

/** seg's kernel as registered for cpu (the reference for seg's own kernels). */
function segCpu(name: string): KernelFunc {
  const k = tf.getKernel(name, 'cpu')?.kernelFunc;
  if (!k) throw new Error(`${name} is not registered for cpu`);
  return k;
}

const one = (xs: TArr[]): TArr => xs[0]!;
const MODES = [false, true] as const;
const mode = (native: boolean): string => (native ? 'libtorch-held inputs' : 'JS-held inputs');

test('torch: every native kernel is registered and differs from the cpu kernel', { skip }, () => {
  for (const name of Object.keys(NATIVE_KERNELS)) {
    const k = tf.getKernel(name, TORCH_BACKEND)?.kernelFunc;
    assert.ok(k, name);
    assert.notEqual(k, tf.getKernel(name, 'cpu')?.kernelFunc, name);
  }
  // and the backend can run everything else through the cpu kernels
  for (const k of tf.getKernelsForBackend('cpu')) assert.ok(tf.getKernel(k.kernelName, TORCH_BACKEND), k.kernelName);
});

test("torch: seg's own parallel loops run on every libtorch thread (the addon is built with OpenMP)", { skip }, () => {
  const addon = torchBackend().addon;
  const n = addon.numThreads();
  try {
    addon.setNumThreads(2);
    assert.equal(addon.parallelThreads(), 2);
    addon.setNumThreads(1);
    assert.equal(addon.parallelThreads(), 1);
  } finally {
    addon.setNumThreads(n);
  }
});

// ---------------------------------------------------------------------------------------------
function checkConv(c: ConvCase, depthwise: boolean, native: boolean): Record<string, number> {
  const rng = new Rng(seedOf(c.name));
  const x = randArr(rng, [...c.x]);
  const w = randArr(rng, [...c.w]);
  const fwd = depthwise ? 'DepthwiseConv2dNative' : 'Conv2D';
  const fName = depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
  const iName = depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
  const base: NamedAttrMap = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilations };
  const yRef = one(runCpu(stock(fwd), { x, filter: w }, base));
  const y = one(runTorch(fwd, { x, filter: w }, base, native));
  const dy = randArr(rng, yRef.shape);
  const dW = one(runTorch(fName, { x, dy }, { ...base, filterShape: c.w }, native));
  const dX = one(runTorch(iName, { dy, filter: w }, { ...base, inputShape: c.x }, native));

  const [dh, dwd] = c.dilations;
  const dilated = dh !== 1 || dwd !== 1;
  const we = dilated ? asArr(expandFilter(w as { shape: number[]; data: Float32Array }, dh, dwd)) : w;
  const undilated = { ...base, dilations: [1, 1] };
  const refWe = one(runCpu(stock(fName), { x, dy }, { ...undilated, filterShape: we.shape }));
  const refW = dilated ? asArr(contractFilter(refWe as { shape: number[]; data: Float32Array }, c.w[0], c.w[1], dh, dwd)) : refWe;
  const refX = one(runCpu(stock(iName), { dy, filter: we }, { ...undilated, inputShape: c.x }));
  const yd = dot(yRef, dy);
  const scale = Math.max(1e-12, sumAbsProd(yRef, dy));
  return {
    y: rel(y, yRef),
    dW: rel(dW, refW),
    dX: rel(dX, refX),
    adjointX: Math.abs(dot(x, dX) - yd) / scale,
    adjointW: Math.abs(dot(w, dW) - yd) / scale,
  };
}

for (const native of MODES) {
  describe(`torch: convolutions and their gradients vs stock cpu (${mode(native)})`, { skip }, () => {
    for (const [cases, depthwise] of [[DENSE_CASES, false], [DEPTHWISE_CASES, true]] as const) {
      for (const c of cases) {
        test(c.name, () => {
          const e = checkConv(c, depthwise, native);
          for (const [k, v] of Object.entries(e)) assert.ok(v <= TOL, `${k}: ${v} ${JSON.stringify(e)}`);
        });
      }
    }
  });
}

describe('torch: FusedConv2D / FusedDepthwiseConv2D (bias, linear/relu/relu6) vs stock cpu', { skip }, () => {
  for (const [cases, depthwise] of [[DENSE_CASES, false], [DEPTHWISE_CASES, true]] as const) {
    const name = depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D';
    for (const c of cases) {
      for (const activation of ['linear', 'relu', 'relu6'] as const) {
        test(`${name} ${activation}: ${c.name}`, () => {
          const rng = new Rng(seedOf(`${name}${activation}${c.name}`));
          // inputs in [-2, 4]: relu6 clips on both sides
          const x = randArr(rng, [...c.x], -2, 4);
          const filter = randArr(rng, [...c.w]);
          const bias = randArr(rng, [depthwise ? c.w[2] * c.w[3] : c.w[3]], -1, 2);
          const attrs: NamedAttrMap = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilations, activation };
          const ref = one(runCpu(stock(name), { x, filter, bias }, attrs));
          for (const native of MODES) {
            const got = one(runTorch(name, { x, filter, bias }, attrs, native));
            assert.ok(rel(got, ref) <= TOL, `${mode(native)}: ${rel(got, ref)}`);
          }
          // without a bias
          const refNoBias = one(runCpu(stock(name), { x, filter }, attrs));
          assert.ok(rel(one(runTorch(name, { x, filter }, attrs, true)), refNoBias) <= TOL);
        });
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
describe('torch: seg’s fused kernels vs seg’s cpu kernels', { skip }, () => {
  const shapes = [[2, 5, 7, 3], [1, 4, 4, 16], [2, 1, 1, 8], [3, 9, 33]];
  for (const act of ['none', 'relu', 'relu6'] as const) {
    for (const shape of shapes) {
      for (const native of MODES) {
        test(`SegBatchNormAct ${act} [${shape}] (${mode(native)})`, () => {
          const rng = new Rng(seedOf(`${act}${shape}`));
          const C = shape[shape.length - 1]!;
          // mean offset and scale so that relu6 clips on both sides
          const x = randArr(rng, shape, -2, 5);
          const gamma = randArr(rng, [C], 0.5, 4);
          const beta = randArr(rng, [C], -1, 3);
          const attrs = { act, epsilon: 1e-3 };
          const ref = runCpu(segCpu('SegBatchNormActForward'), { x, gamma, beta }, attrs);
          const got = runTorch('SegBatchNormActForward', { x, gamma, beta }, attrs, native);
          ref.forEach((r, i) => assert.ok(rel(got[i]!, r) <= TOL, `forward output ${i}: ${rel(got[i]!, r)}`));
          const dy = randArr(rng, shape);
          const [mean, variance] = [ref[1]!, ref[2]!];
          const inputs = { dy, x, gamma, beta, mean, variance };
          const refB = runCpu(segCpu('SegBatchNormActBackward'), inputs, attrs);
          const gotB = runTorch('SegBatchNormActBackward', inputs, attrs, native);
          refB.forEach((r, i) => assert.ok(rel(gotB[i]!, r) <= TOL, `backward output ${i}: ${rel(gotB[i]!, r)}`));
        });
      }
    }
  }
  for (const kind of ['adam', 'sgd'] as const) {
    for (const native of MODES) {
      test(`SegOptimizerStep ${kind} (${mode(native)})`, () => {
        const rng = new Rng(kind === 'adam' ? 5 : 6);
        const shape = [3, 5, 7];
        const inputs: Record<string, TArr> = { w: randArr(rng, shape), g: randArr(rng, shape), m: randArr(rng, shape, -0.1, 0.1) };
        if (kind === 'adam') inputs['v'] = randArr(rng, shape, 0, 0.01);
        const attrs = { kind, lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3, weightDecay: 4e-5 };
        const ref = runCpu(segCpu('SegOptimizerStep'), inputs, attrs);
        const got = runTorch('SegOptimizerStep', inputs, attrs, native);
        assert.equal(got.length, ref.length);
        ref.forEach((r, i) => assert.ok(rel(got[i]!, r) <= 1e-5, `output ${i}: ${rel(got[i]!, r)}`));
      });
    }
  }
});

describe('SegMovingStats on torch', () => {
  for (const native of MODES) {
    test(`the bits of seg's cpu kernel (${mode(native)})`, () => {
      const rng = new Rng(7);
      const C = 37;
      const inputs = { movingMean: randArr(rng, [C]), movingVariance: randArr(rng, [C], 0, 2), mean: randArr(rng, [C]), variance: randArr(rng, [C], 0, 2) };
      for (const momentum of [0.9, 0.99, 0.1]) {
        const ref = runCpu(segCpu('SegMovingStats'), inputs, { momentum });
        const got = runTorch('SegMovingStats', inputs, { momentum }, native);
        assert.equal(got.length, 2);
        ref.forEach((r, i) => assert.deepEqual(Array.from(got[i]!.data), Array.from(r.data), `output ${i}, momentum ${momentum}`));
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
/** Compare one kernel on torch (both input modes) with a cpu reference kernel. */
function same(name: string, inputs: Record<string, TArr> | TArr[], attrs: NamedAttrMap = {}, ref: KernelFunc = stock(name), tol = TOL): void {
  const want = runCpu(ref, inputs, attrs);
  for (const native of MODES) {
    const got = runTorch(name, inputs, attrs, native);
    assert.equal(got.length, want.length, name);
    want.forEach((w, i) => {
      const e = rel(got[i]!, w);
      assert.ok(e <= tol, `${name} output ${i} (${mode(native)}): error ${e}`);
    });
  }
}

/** Values on a grid of quarters, so that comparisons see ties. */
function quarters(rng: Rng, shape: number[]): TArr {
  const n = shape.reduce((a, b) => a * b, 1);
  return f32(shape, Float32Array.from({ length: n }, () => Math.round(rng.uniform(-2, 2) * 4) / 4));
}

function ints(rng: Rng, shape: number[], lo = -20, hi = 20): TArr {
  const n = shape.reduce((a, b) => a * b, 1);
  return i32(shape, Int32Array.from({ length: n }, () => Math.floor(rng.uniform(lo, hi))));
}

const BROADCASTS: ReadonlyArray<[number[], number[]]> = [
  [[2, 3, 4], [2, 3, 4]],
  [[2, 3, 4], [4]],
  [[2, 1, 4], [1, 3, 1]],
  [[5], []],
  [[1, 6, 6, 8], [1, 1, 1, 8]],
];

describe('torch: element-wise kernels vs stock cpu', { skip }, () => {
  const rng = new Rng(11);
  for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference']) {
    test(`${name} (float32, broadcasting)`, () => {
      for (const [sa, sb] of BROADCASTS) {
        const a = randArr(rng, sa);
        const b = name === 'RealDiv' ? randArr(rng, sb, 0.5, 2) : randArr(rng, sb);
        same(name, { a, b });
        same(name, { a: b, b: name === 'RealDiv' ? randArr(rng, sa, 0.5, 2) : a });
      }
    });
  }
  for (const name of ['Add', 'Sub', 'Multiply', 'Maximum', 'Minimum']) {
    test(`${name} (int32)`, () => {
      for (const [sa, sb] of BROADCASTS) same(name, { a: ints(rng, sa), b: ints(rng, sb) });
    });
  }
  for (const name of ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual']) {
    test(`${name} (float32 with ties, int32) → bool`, () => {
      for (const [sa, sb] of BROADCASTS) {
        same(name, { a: quarters(rng, sa), b: quarters(rng, sb) }, {}, stock(name), 0);
        same(name, { a: ints(rng, sa, -2, 2), b: ints(rng, sb, -2, 2) }, {}, stock(name), 0);
      }
    });
  }
  test('LogicalAnd, LogicalOr, LogicalNot (bool)', () => {
    const bools = (shape: number[]): TArr => ({ shape, data: Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.random() < 0.5 ? 1 : 0)), dtype: 'bool' });
    for (const [sa, sb] of BROADCASTS) {
      same('LogicalAnd', { a: bools(sa), b: bools(sb) }, {}, stock('LogicalAnd'), 0);
      same('LogicalOr', { a: bools(sa), b: bools(sb) }, {}, stock('LogicalOr'), 0);
    }
    same('LogicalNot', { x: bools([3, 7]) }, {}, stock('LogicalNot'), 0);
  });
  const unaries: ReadonlyArray<[string, number, number, NamedAttrMap?]> = [
    ['Relu', -3, 3], ['Relu6', -3, 9], ['Sqrt', 0.01, 4], ['Rsqrt', 0.1, 4], ['Square', -3, 3], ['Neg', -3, 3], ['Exp', -5, 5],
    ['Log', 0.01, 9], ['Abs', -3, 3], ['Sigmoid', -8, 8], ['Tanh', -4, 4], ['Step', -2, 2, { alpha: 0 }], ['Step', -2, 2, { alpha: 0.2 }],
    ['Reciprocal', 0.5, 3], ['Log1p', -0.5, 3], ['Floor', -5, 5], ['Ceil', -5, 5],
  ];
  for (const [name, lo, hi, attrs] of unaries) {
    test(`${name}${attrs ? ` ${JSON.stringify(attrs)}` : ''}`, () => {
      for (const shape of [[7], [2, 3, 5, 4], [1, 1]]) same(name, { x: randArr(rng, shape, lo, hi) }, attrs ?? {});
      if (name === 'Step') same(name, { x: quarters(rng, [4, 4]) }, attrs ?? {});
    });
  }
  test('Cast: float32 → int32, float32 → bool, int32 → bool (exact); lossless casts share data', () => {
    const x = f32([3, 4], Float32Array.from([0, -0, 1.5, -1.5, 2.999, -2.999, 7, 0.25, -7.75, 100.5, 0, 3]));
    same('Cast', { x }, { dtype: 'int32' }, stock('Cast'), 0);
    same('Cast', { x }, { dtype: 'bool' }, stock('Cast'), 0);
    same('Cast', { x: ints(rng, [3, 4], -1, 2) }, { dtype: 'bool' }, stock('Cast'), 0);
    same('Cast', { x: ints(rng, [3, 4]) }, { dtype: 'float32' }, stock('Cast'), 0);
  });
});

describe('torch: reductions and softmax vs stock cpu', { skip }, () => {
  const rng = new Rng(12);
  const x = randArr(rng, [2, 3, 4, 5]);
  const axesList: Array<number | number[]> = [3, -1, [1, 2], [0, 1, 2, 3], 0, [0, 3]];
  for (const [name, attr] of [['Sum', 'axis'], ['Mean', 'axis'], ['Max', 'reductionIndices'], ['Min', 'axis'], ['Prod', 'axis']] as const) {
    test(name, () => {
      const input = name === 'Prod' ? randArr(rng, [2, 3, 4, 5], 0.8, 1.25) : x;
      for (const axes of axesList) for (const keepDims of [false, true]) same(name, { x: input }, { [attr]: axes, keepDims });
    });
  }
  test('Sum of int32 and over no axes falls back to the cpu kernel', () => {
    same('Sum', { x: ints(rng, [2, 3, 4]) }, { axis: [1], keepDims: false }, stock('Sum'), 0);
    same('Sum', { x }, { axis: [], keepDims: false });
  });
  for (const name of ['ArgMax', 'ArgMin']) {
    test(name, () => {
      for (const axis of [0, 1, 3, -1]) same(name, { x }, { axis }, stock(name), 0);
    });
  }
  test('Softmax', () => {
    for (const shape of [[2, 3, 4, 5], [7, 2], [1, 19], [3, 7, 21], [17, 64], [9, 65], [8, 1]]) same('Softmax', { logits: randArr(rng, shape, -6, 6) }, { dim: -1 });
  });
  test('Softmax: the AVX2 loop (eight rows at once) gives the portable loop\'s bits, NaN, ±Infinity and underflow included', () => {
    const addon = torchBackend().addon;
    const shapes = [[3, 7, 21], [17, 2], [16, 64], [9, 65], [8, 1], [5, 3]];
    for (const shape of shapes) {
      const x = randArr(rng, shape, -30, 30);
      const v = x.data as Float32Array;
      const D = shape[shape.length - 1] as number;
      // rows with a NaN, +Infinity, −Infinity, a logit far below the others (e^−87 clamp) and all equal
      if (v.length >= 5 * D) {
        v[0] = NaN;
        v[D] = Infinity;
        v[2 * D] = -Infinity;
        v[3 * D] = -500;
        v.fill(0.5, 4 * D, 5 * D);
      }
      const previous = addon.avx2(false);
      try {
        const portable = runTorch('Softmax', { logits: x }, { dim: -1 });
        addon.avx2(previous);
        const vector = runTorch('Softmax', { logits: x }, { dim: -1 });
        const [a, b] = [portable[0]!.data, vector[0]!.data];
        for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`[${shape}] ${i}: ${b[i]} (AVX2) vs ${a[i]}`);
      } finally {
        addon.avx2(previous);
      }
    }
  });
});

describe('torch: data movement vs stock cpu', { skip }, () => {
  const rng = new Rng(13);
  test('Concat on every axis, float32 and int32', () => {
    for (let axis = 0; axis < 4; axis++) {
      const shapes = [2, 3, 1].map((k) => [2, 3, 4, 5].map((d, i) => (i === axis ? k : d)));
      same('Concat', shapes.map((s) => randArr(rng, s)), { axis }, stock('Concat'), 0);
      same('Concat', shapes.map((s) => ints(rng, s)), { axis }, stock('Concat'), 0);
    }
    same('Concat', [randArr(rng, [3, 4]), randArr(rng, [3, 2])], { axis: -1 }, stock('Concat'), 0);
  });
  test('SplitV', () => {
    const x = randArr(rng, [4, 6, 5, 8]);
    same('SplitV', { x }, { numOrSizeSplits: [1, 2, -1], axis: 3 }, stock('SplitV'), 0);
    same('SplitV', { x }, { numOrSizeSplits: 2, axis: 1 }, stock('SplitV'), 0);
    same('SplitV', { x }, { numOrSizeSplits: [3, 1], axis: 0 }, stock('SplitV'), 0);
  });
  test('Slice', () => {
    const x = randArr(rng, [3, 6, 5, 4]);
    same('Slice', { x }, { begin: [0, 1, 2, 0], size: [-1, 3, 2, 4] }, stock('Slice'), 0);
    same('Slice', { x }, { begin: [1, 0, 0, 0], size: [1, 6, 5, 4] }, stock('Slice'), 0);
    same('Slice', { x: ints(rng, [5, 7]) }, { begin: [1, 2], size: [3, -1] }, stock('Slice'), 0);
  });
  test('Transpose', () => {
    const x = randArr(rng, [2, 3, 4, 5]);
    for (const perm of [[0, 3, 1, 2], [0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 2, 3]]) same('Transpose', { x }, { perm }, stock('Transpose'), 0);
    same('Transpose', { x: ints(rng, [4, 3]) }, { perm: [1, 0] }, stock('Transpose'), 0);
  });
  test('PadV2', () => {
    const x = randArr(rng, [2, 3, 4, 2]);
    same('PadV2', { x }, { paddings: [[0, 0], [0, 1], [2, 1], [0, 0]], constantValue: 0 }, stock('PadV2'), 0);
    same('PadV2', { x }, { paddings: [[1, 0], [0, 0], [0, 3], [1, 1]], constantValue: 1.5 }, stock('PadV2'), 0);
  });
  test('Tile', () => {
    same('Tile', { x: randArr(rng, [2, 1, 1, 3]) }, { reps: [1, 4, 5, 1] }, stock('Tile'), 0);
    same('Tile', { x: ints(rng, [2, 3]) }, { reps: [2, 2] }, stock('Tile'), 0);
  });
  test('AddN', () => {
    same('AddN', [randArr(rng, [3, 4, 2]), randArr(rng, [3, 4, 2]), randArr(rng, [3, 4, 2])]);
  });
});

describe('torch: resize and matmul', { skip }, () => {
  const rng = new Rng(14);
  for (const c of RESIZE_CASES) {
    test(`ResizeBilinear ${c.name} vs stock cpu`, () => {
      const attrs = { alignCorners: c.alignCorners, halfPixelCenters: c.halfPixelCenters, size: c.size };
      same('ResizeBilinear', { images: randArr(rng, [...c.x]) }, attrs);
    });
    test(`ResizeBilinearGrad ${c.name} vs seg’s exact cpu kernel`, () => {
      const attrs = { alignCorners: c.alignCorners, halfPixelCenters: c.halfPixelCenters };
      const images = randArr(rng, [...c.x]);
      const dy = randArr(rng, [c.x[0], c.size[0], c.size[1], c.x[3]]);
      same('ResizeBilinearGrad', { images, dy }, attrs, segCpu('ResizeBilinearGrad'));
    });
  }
  test('BatchMatMul with transposes and batch broadcasting vs stock cpu', () => {
    const cases: ReadonlyArray<[number[], number[], boolean, boolean]> = [
      [[2, 3, 4], [2, 4, 5], false, false],
      [[2, 4, 3], [2, 4, 5], true, false],
      [[2, 3, 4], [2, 5, 4], false, true],
      [[1, 4, 3], [3, 5, 4], true, true],
      [[7, 9], [9, 2], false, false],
    ];
    for (const [sa, sb, transposeA, transposeB] of cases) same('BatchMatMul', { a: randArr(rng, sa), b: randArr(rng, sb) }, { transposeA, transposeB });
  });
});

describe('torch: kernels without a native version read libtorch tensors correctly', { skip }, () => {
  const rng = new Rng(15);
  test('Pow, Max of int32, legacy-mode resize (cpu kernels on native inputs)', () => {
    const before = torchBackend().materialisations;
    same('Pow', { a: randArr(rng, [3, 4], 0.1, 2), b: randArr(rng, [3, 4], -2, 2) });
    same('Max', { x: ints(rng, [3, 4]) }, { reductionIndices: [1], keepDims: false }, stock('Max'), 0);
    assert.ok(torchBackend().materialisations > before, 'native inputs were copied out for the cpu kernels');
  });
});
