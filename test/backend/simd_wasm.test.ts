/**
 * seg's generated WebAssembly SIMD kernels: the encoder's LEB128 against hand-derived bytes, the
 * module validates and instantiates on tfjs-backend-wasm's memory, and each kernel equals the JS
 * loop it replaces (SIMD off) on shapes with C mod 4 ≠ 0 and more rows than one float32 block.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { hostFor } from '../../src/backend/kernels/host.js';
import { simdFor, simdSettings } from '../../src/backend/kernels/wasm/runtime.js';
import { BLOCK, simdModuleBytes } from '../../src/backend/kernels/wasm/simd.js';
import { sleb, uleb } from '../../src/backend/kernels/wasm/emit.js';
import { Rng } from '../../src/util/rng.js';
import { type Arr, rand, registered, relErr, runKernel } from './helpers.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
});

test('LEB128 encodings (values from the WebAssembly spec examples)', () => {
  assert.deepEqual(uleb(0), [0x00]);
  assert.deepEqual(uleb(127), [0x7f]);
  assert.deepEqual(uleb(128), [0x80, 0x01]);
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(uleb(0xe4), [0xe4, 0x01]); // f32x4.add's opcode after the 0xfd prefix
  assert.deepEqual(sleb(0), [0x00]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(sleb(-4), [0x7c]); // ~3, the channel mask
});

test('the SIMD module validates and is active on the wasm backend', () => {
  const bytes = simdModuleBytes();
  assert.deepEqual([...bytes.slice(0, 8)], [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  assert.ok(simdSettings.enabled, 'SEG_WASM_SIMD=0 is set');
  assert.ok(simdFor(hostFor(tf.backend())), 'SIMD kernels did not instantiate');
});

function both<T>(f: () => T): { simd: T; js: T } {
  const simd = f();
  simdSettings.enabled = false;
  try {
    return { simd, js: f() };
  } finally {
    simdSettings.enabled = true;
  }
}

describe('SIMD kernels equal the JS loops', () => {
  for (const shape of [[2, 13, 11, 7], [1, 16, 17, 96], [3, 9, 10, 3]]) {
    for (const act of ['none', 'relu', 'relu6']) {
      test(`batch norm ${act} [${shape}] (${shape[0]! * shape[1]! * shape[2]!} rows, block ${BLOCK})`, () => {
        const rng = new Rng(shape[3]! + act.length);
        const C = shape[3]!;
        const x = rand(rng, shape);
        x.data.forEach((v, i) => (x.data[i] = 3 * v + 1));
        const g = rand(rng, [C]);
        g.data.forEach((v, i) => (g.data[i] = 3 * v));
        const b = rand(rng, [C]);
        const dy = rand(rng, shape);
        const attrs = { act, epsilon: 1e-5 };
        const fwd = both(() => runMultiOut('SegBatchNormActForward', { x, gamma: g, beta: b }, attrs));
        fwd.simd.forEach((o, i) => assert.ok(relErr(o, fwd.js[i]!) <= 1e-5, `forward output ${i}: ${relErr(o, fwd.js[i]!)}`));
        const [, mean, variance] = fwd.js;
        const bwd = both(() => runMultiOut('SegBatchNormActBackward', { dy, x, gamma: g, beta: b, mean: mean!, variance: variance! }, attrs));
        bwd.simd.forEach((o, i) => assert.ok(relErr(o, bwd.js[i]!) <= 1e-4, `backward output ${i}: ${relErr(o, bwd.js[i]!)}`));
      });
    }
  }
  for (const [xs, k, s, d] of [
    [[2, 17, 15, 7], 3, 1, 1],
    [[1, 20, 19, 20], 3, 2, 1],
    [[2, 12, 12, 9], 3, 1, 3],
  ] as Array<[number[], number, number, number]>) {
    test(`depthwise filter and input gradients [${xs}] k${k} s${s} d${d}`, () => {
      const rng = new Rng(xs[3]!);
      const x = rand(rng, xs);
      const oh = Math.ceil(xs[1]! / s);
      const ow = Math.ceil(xs[2]! / s);
      const dy = rand(rng, [xs[0]!, oh, ow, xs[3]!]);
      const attrs = { strides: [s, s], pad: 'same', dilations: [d, d], filterShape: [k, k, xs[3]!, 1] };
      const r = both(() => runKernel('wasm', registered('DepthwiseConv2dNativeBackpropFilter', 'wasm'), { x, dy }, attrs));
      assert.ok(relErr(r.simd, r.js) <= 1e-5, `${relErr(r.simd, r.js)}`);
      const w = rand(rng, [k, k, xs[3]!, 1]);
      const inAttrs = { strides: [s, s], pad: 'same', dilations: [d, d], inputShape: xs };
      const ri = both(() => runKernel('wasm', registered('DepthwiseConv2dNativeBackpropInput', 'wasm'), { dy, filter: w }, inAttrs));
      assert.ok(relErr(ri.simd, ri.js) <= 1e-5, `input gradient ${relErr(ri.simd, ri.js)}`);
    });
  }
});

/** Run a multi-output kernel on wasm with array inputs. */
function runMultiOut(name: string, inputs: Record<string, Arr>, attrs: tf.NamedAttrMap): Arr[] {
  const be = tf.engine().findBackend('wasm') as unknown as {
    write(v: Float32Array, s: number[], d: 'float32'): object;
    readSync(id: object): unknown;
    disposeData(id: object): boolean;
    numDataIds(): number;
  };
  const n0 = be.numDataIds();
  const infos: Record<string, tf.TensorInfo> = {};
  for (const [k, a] of Object.entries(inputs)) infos[k] = { dataId: be.write(a.data, a.shape, 'float32'), shape: a.shape, dtype: 'float32' };
  const outs = registered(name, 'wasm')({ inputs: infos, backend: be, attrs }) as tf.TensorInfo[];
  const res = outs.map((o) => ({ shape: [...o.shape], data: Float32Array.from(be.readSync(o.dataId) as Float32Array) }));
  for (const o of outs) be.disposeData(o.dataId);
  for (const i of Object.values(infos)) be.disposeData(i.dataId);
  assert.equal(be.numDataIds(), n0, 'leaked data');
  return res;
}

/**
 * a·b in float64 (a [M, K], b [K, N], row-major), or aᵀ·b with `aT` (a given as [K, M]): the
 * reference for seg's GEMMs.
 */
function matMulRef(a: Arr, b: Arr, M: number, K: number, N: number, aT = false): Arr {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      const av = a.data[aT ? k * M + m : m * K + k] as number;
      for (let n = 0; n < N; n++) out[m * N + n] = (out[m * N + n] as number) + av * (b.data[k * N + n] as number);
    }
  }
  return { shape: [M, N], data: Float32Array.from(out) };
}

describe('filter-gradient GEMM (gemmtn) equals float64 aᵀ·b', () => {
  // rows not a multiple of GEMM_MC (and fewer than one pass), K not a multiple of 4, columns not a
  // multiple of 8, one column part and two (R·K·Q ≥ 2²⁰, Q ≥ 16)
  const cases: Array<[number, number, number]> = [[7, 3, 5], [300, 13, 21], [513, 305, 8], [600, 70, 37], [1030, 4, 256], [257, 96, 16]];
  for (const [R, P, Q] of cases) {
    test(`[${R}, ${P}]ᵀ · [${R}, ${Q}]`, () => {
      const rng = new Rng(R + P + Q);
      const a = rand(rng, [R, P]);
      const b = rand(rng, [R, Q]);
      const ref = matMulRef(a, b, P, R, Q, true);
      const x = { ...a, shape: [1, 1, R, P] };
      const dy = { ...b, shape: [1, 1, R, Q] };
      const attrs = { strides: [1, 1], pad: 'valid', dilations: [1, 1], filterShape: [1, 1, P, Q] };
      const r = both(() => runKernel('wasm', registered('Conv2DBackpropFilter', 'wasm'), { x, dy }, attrs));
      assert.ok(relErr({ ...r.simd, shape: [P, Q] }, ref) <= 1e-5, `SIMD GEMM ${relErr({ ...r.simd, shape: [P, Q] }, ref)}`);
      assert.ok(relErr({ ...r.js, shape: [P, Q] }, ref) <= 1e-5, `XNNPACK path ${relErr({ ...r.js, shape: [P, Q] }, ref)}`);
    });
  }
});

describe('pointwise-convolution GEMM (gemmpack, gemmnn) equals float64 a·b: forward, input gradient, and with a bias and relu/relu6', () => {
  // rows fewer than a tile, not a multiple of 4, more than a block (64) with a rest, two row parts
  // (M·K·N ≥ 2²⁰); K = 1 and odd; columns 1, not a multiple of 8, several panels
  const cases: Array<[number, number, number]> = [[3, 5, 7], [1, 1, 1], [70, 17, 13], [133, 3, 24], [515, 33, 64], [1030, 96, 40], [257, 256, 9]];
  for (const [M, K, N] of cases) {
    test(`[${M}, ${K}] · [${K}, ${N}]`, () => {
      const rng = new Rng(M + 3 * K + 7 * N);
      const a = rand(rng, [1, 1, M, K]);
      const w = rand(rng, [1, 1, K, N]);
      const ref = matMulRef(a, w, M, K, N);
      const conv = { strides: [1, 1], pad: 'same', dilations: [1, 1], dataFormat: 'NHWC' };
      const fwd = both(() => runKernel('wasm', registered('Conv2D', 'wasm'), { x: a, filter: w }, conv));
      assert.ok(relErr({ ...fwd.simd, shape: [M, N] }, ref) <= 1e-5, `seg GEMM ${relErr({ ...fwd.simd, shape: [M, N] }, ref)}`);
      assert.ok(relErr({ ...fwd.js, shape: [M, N] }, ref) <= 1e-5, `XNNPACK ${relErr({ ...fwd.js, shape: [M, N] }, ref)}`);
      // the input gradient dy · wᵀ: dy [M, N], w [K, N] → [M, K]
      const dy = rand(rng, [1, 1, M, N]);
      const wT: Arr = { shape: [N, K], data: Float32Array.from({ length: N * K }, (_, i) => w.data[(i % K) * N + Math.floor(i / K)] as number) };
      const refIn = matMulRef({ ...dy, shape: [M, N] }, wT, M, N, K);
      const bwd = both(() => runKernel('wasm', registered('Conv2DBackpropInput', 'wasm'), { dy, filter: w }, { ...conv, inputShape: [1, 1, M, K] }));
      assert.ok(relErr({ ...bwd.simd, shape: [M, K] }, refIn) <= 1e-5, `seg GEMM, input gradient ${relErr({ ...bwd.simd, shape: [M, K] }, refIn)}`);
      assert.ok(relErr({ ...bwd.js, shape: [M, K] }, refIn) <= 1e-5, `XNNPACK, input gradient ${relErr({ ...bwd.js, shape: [M, K] }, refIn)}`);
      // FusedConv2D (inference with batch norm folded in): bias, then relu / relu6 / none
      const bias = rand(rng, [N]);
      for (const activation of ['linear', 'relu', 'relu6'] as const) {
        const act = (v: number) => (activation === 'linear' ? v : Math.min(Math.max(v, 0), activation === 'relu6' ? 6 : Infinity));
        // values spread so that relu6 clips some: 4·(bias + a·w)
        const refF: Arr = { shape: [M, N], data: ref.data.map((v, i) => act(4 * (v + (bias.data[i % N] as number)))) };
        const fused = both(() => runKernel('wasm', registered('FusedConv2D', 'wasm'), { x: { ...a, data: a.data.map((v) => 4 * v) }, filter: w, bias: { ...bias, data: bias.data.map((v) => 4 * v) } }, { ...conv, activation }));
        assert.ok(relErr({ ...fused.simd, shape: [M, N] }, refF) <= 1e-5, `seg GEMM, ${activation} ${relErr({ ...fused.simd, shape: [M, N] }, refF)}`);
        assert.ok(relErr({ ...fused.js, shape: [M, N] }, refF) <= 1e-5, `XNNPACK, ${activation} ${relErr({ ...fused.js, shape: [M, N] }, refF)}`);
      }
    });
  }
});

describe('bilinear resize gradient (resizegrad) equals the JS loop, bit for bit', () => {
  const cases: Array<{ x: number[]; size: [number, number]; alignCorners: boolean; halfPixelCenters: boolean }> = [
    { x: [2, 9, 11, 7], size: [20, 23], alignCorners: false, halfPixelCenters: true },
    { x: [3, 16, 16, 12], size: [64, 64], alignCorners: false, halfPixelCenters: true },
    { x: [1, 12, 10, 5], size: [5, 4], alignCorners: false, halfPixelCenters: true },
    { x: [2, 5, 6, 9], size: [9, 11], alignCorners: true, halfPixelCenters: false },
    { x: [1, 3, 5, 4], size: [7, 12], alignCorners: false, halfPixelCenters: false },
  ];
  for (const c of cases) {
    test(`[${c.x}] → ${c.size.join('x')}${c.alignCorners ? ', align corners' : c.halfPixelCenters ? '' : ', legacy'}`, () => {
      const rng = new Rng(c.x[3]! + c.size[0]);
      const images = rand(rng, c.x);
      const dy = rand(rng, [c.x[0]!, ...c.size, c.x[3]!]);
      const r = both(() => runKernel('wasm', registered('ResizeBilinearGrad', 'wasm'), { images, dy }, { alignCorners: c.alignCorners, halfPixelCenters: c.halfPixelCenters }));
      assert.deepEqual(Array.from(r.simd.data), Array.from(r.js.data)); // the same float64 arithmetic
    });
  }
});
