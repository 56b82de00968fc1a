/**
 * Training-mode batch norm fused with its activation, as two kernels and one differentiable op.
 *
 *   SegBatchNormActForward   {x, gamma, beta}, {act, epsilon} → [y, mean, variance]
 *       mean, variance: per-channel batch statistics over N·H·W (biased variance);
 *       y = act(z), z = (x − mean)·γ/√(variance + ε) + β, act ∈ relu | relu6 | none.
 *   SegBatchNormActBackward  {dy, x, gamma, beta, mean, variance}, {act, epsilon} → [dx, dγ, dβ]
 *       with dz = dy·act′(z) (relu: z > 0; relu6: 0 < z ≤ 6, tfjs's convention), x̂ = (x − mean)·s,
 *       s = 1/√(variance + ε), M = N·H·W:
 *       dγ = Σ dz·x̂,  dβ = Σ dz,  dx = γ·s·(dz − dβ/M − x̂·dγ/M).
 *
 * The tfjs-op version of this (tf.moments, sub, mul, add, relu6, and the gradient's mul, sum,
 * step, lessEqual, cast, ...) makes about 25 full passes over the tensor; these make 3 forward
 * and 2 backward, reading the channels innermost and accumulating per channel in float64.
 * Kernel bodies work on any Host (wasm heap or cpu arrays).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { type Host, sizeOf } from './host.js';
import { Scratch, simdFor } from './wasm/runtime.js';
import type { SimdExports } from './wasm/simd.js';

/** Activation fused after the batch norm. */
export type FusedActivation = 'relu' | 'relu6' | 'none';

const ACT_CODE: Readonly<Record<FusedActivation, number>> = Object.freeze({ none: 0, relu: 1, relu6: 2 });

/** Forward on the SIMD kernels: colsum → mean, colsumsq → variance, bnapply. */
function bnActForwardSimd(h: Host, k: SimdExports, x: TensorInfo, gamma: TensorInfo, beta: TensorInfo, act: FusedActivation, epsilon: number): TensorInfo[] {
  const C = x.shape[x.shape.length - 1]!;
  const M = sizeOf(x.shape) / C;
  const y = h.allocUninit([...x.shape]);
  const mean = h.allocUninit([C]);
  const variance = h.allocUninit([C]);
  // slots: out64 [0, 2C) | acc32 [2C, 3C) | mu [3C, 4C) | a [4C, 5C) | b [5C, 6C)
  const s = new Scratch(h, 6 * C);
  try {
    s.f32(0, 3 * C).fill(0);
    k.colsum(h.ptr(x), M, C, s.addr(2 * C), s.addr(0));
    const sum = s.f64(0, C);
    const mu = s.f32(3 * C, C);
    for (let c = 0; c < C; c++) mu[c] = sum[c]! / M;
    s.f32(0, 3 * C).fill(0);
    k.colsumsq(h.ptr(x), M, C, s.addr(3 * C), s.addr(2 * C), s.addr(0));
    const sq = s.f64(0, C);
    const a = s.f32(4 * C, C);
    const b = s.f32(5 * C, C);
    const gv = h.f32(gamma);
    const bv = h.f32(beta);
    const mv = h.f32(mean);
    const vv = h.f32(variance);
    for (let c = 0; c < C; c++) {
      const v = sq[c]! / M;
      const inv = 1 / Math.sqrt(v + epsilon);
      mv[c] = mu[c]!;
      vv[c] = v;
      a[c] = gv[c]! * inv;
      b[c] = bv[c]! - mu[c]! * gv[c]! * inv;
    }
    k[`bnapply_${act}`](h.ptr(x), h.ptr(y), s.addr(4 * C), s.addr(5 * C), M, C);
  } finally {
    s.dispose();
  }
  return [y, mean, variance];
}

/** Backward on the SIMD kernels: bnbwdsum → dγ, dβ; bnbwdapply → dx. */
function bnActBackwardSimd(
  h: Host,
  k: SimdExports,
  dy: TensorInfo,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  act: FusedActivation,
  epsilon: number,
): TensorInfo[] {
  const C = x.shape[x.shape.length - 1]!;
  const M = sizeOf(x.shape) / C;
  const dx = h.allocUninit([...x.shape]);
  const dgamma = h.allocUninit([C]);
  const dbeta = h.allocUninit([C]);
  // slots: out1 [0, 2C) | out2 [2C, 4C) | acc1 [4C, 5C) | acc2 [5C, 6C) | a | b | mu | k1 | k0 (C each, from 6C)
  const s = new Scratch(h, 11 * C);
  try {
    s.f32(0, 6 * C).fill(0);
    const a = s.f32(6 * C, C);
    const b = s.f32(7 * C, C);
    const mu = s.f32(8 * C, C);
    const inv = new Float32Array(C);
    const gv = h.f32(gamma);
    const bv = h.f32(beta);
    const mv = h.f32(mean);
    const vv = h.f32(variance);
    for (let c = 0; c < C; c++) {
      inv[c] = 1 / Math.sqrt(vv[c]! + epsilon);
      a[c] = gv[c]! * inv[c]!;
      b[c] = bv[c]! - mv[c]! * a[c]!;
      mu[c] = mv[c]!;
    }
    k[`bnbwdsum_${act}`](h.ptr(dy), h.ptr(x), s.addr(6 * C), s.addr(7 * C), s.addr(8 * C), M, C, s.addr(4 * C), s.addr(5 * C), s.addr(0), s.addr(2 * C));
    const s1 = s.f64(0, C);
    const s2raw = s.f64(2 * C, C); // Σ d·(x − μ)
    const k1 = s.f32(9 * C, C);
    const k0 = s.f32(10 * C, C);
    const a2 = s.f32(6 * C, C);
    const dgv = h.f32(dgamma);
    const dbv = h.f32(dbeta);
    for (let c = 0; c < C; c++) {
      const s2 = s2raw[c]! * inv[c]!; // Σ d·x̂
      dbv[c] = s1[c]!;
      dgv[c] = s2;
      k1[c] = (-a2[c]! * inv[c]! * s2) / M;
      k0[c] = (-a2[c]! * s1[c]!) / M;
    }
    k[`bnbwdapply_${act}`](h.ptr(dy), h.ptr(x), s.addr(6 * C), s.addr(7 * C), s.addr(8 * C), s.addr(9 * C), s.addr(10 * C), h.ptr(dx), M, C);
  } finally {
    s.dispose();
  }
  return [dx, dgamma, dbeta];
}

/** Forward kernel body. */
export function bnActForward(h: Host, x: TensorInfo, gamma: TensorInfo, beta: TensorInfo, act: FusedActivation, epsilon: number): TensorInfo[] {
  const k = simdFor(h);
  if (k) return bnActForwardSimd(h, k, x, gamma, beta, act, epsilon);
  const C = x.shape[x.shape.length - 1]!;
  const total = x.shape.reduce((a, b) => a * b, 1);
  const M = total / C;
  const y = h.allocUninit([...x.shape]);
  const mean = h.allocUninit([C]);
  const variance = h.allocUninit([C]);
  const xv = h.f32(x);
  const yv = h.f32(y);
  const gv = h.f32(gamma);
  const bv = h.f32(beta);
  const mv = h.f32(mean);
  const vv = h.f32(variance);
  const acc = new Float64Array(C);
  for (let p = 0; p < total; p += C) for (let c = 0; c < C; c++) acc[c] = acc[c]! + xv[p + c]!;
  const mu = new Float64Array(C);
  for (let c = 0; c < C; c++) mu[c] = acc[c]! / M;
  acc.fill(0);
  for (let p = 0; p < total; p += C) {
    for (let c = 0; c < C; c++) {
      const d = xv[p + c]! - mu[c]!;
      acc[c] = acc[c]! + d * d;
    }
  }
  const a = new Float32Array(C);
  const b = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const v = acc[c]! / M;
    mv[c] = mu[c]!;
    vv[c] = v;
    const s = 1 / Math.sqrt(v + epsilon);
    a[c] = gv[c]! * s;
    b[c] = bv[c]! - mu[c]! * gv[c]! * s;
  }
  const code = ACT_CODE[act];
  for (let p = 0; p < total; p += C) {
    for (let c = 0; c < C; c++) {
      const z = xv[p + c]! * a[c]! + b[c]!;
      yv[p + c] = code === 0 ? z : code === 1 ? (z > 0 ? z : 0) : z > 0 ? (z < 6 ? z : 6) : 0;
    }
  }
  return [y, mean, variance];
}

/** Backward kernel body. */
export function bnActBackward(
  h: Host,
  dy: TensorInfo,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  act: FusedActivation,
  epsilon: number,
): TensorInfo[] {
  const k = simdFor(h);
  if (k) return bnActBackwardSimd(h, k, dy, x, gamma, beta, mean, variance, act, epsilon);
  const C = x.shape[x.shape.length - 1]!;
  const total = x.shape.reduce((p, q) => p * q, 1);
  const M = total / C;
  const dx = h.allocUninit([...x.shape]);
  const dgamma = h.allocUninit([C]);
  const dbeta = h.allocUninit([C]);
  const dyv = h.f32(dy);
  const xv = h.f32(x);
  const dxv = h.f32(dx);
  const gv = h.f32(gamma);
  const bv = h.f32(beta);
  const mv = h.f32(mean);
  const vv = h.f32(variance);
  const dgv = h.f32(dgamma);
  const dbv = h.f32(dbeta);
  const s = new Float32Array(C);
  const a = new Float32Array(C); // z = x·a + b
  const b = new Float32Array(C);
  const mu = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    s[c] = 1 / Math.sqrt(vv[c]! + epsilon);
    a[c] = gv[c]! * s[c]!;
    b[c] = bv[c]! - mv[c]! * a[c]!;
    mu[c] = mv[c]!;
  }
  const code = ACT_CODE[act];
  const s1 = new Float64Array(C);
  const s2 = new Float64Array(C);
  for (let p = 0; p < total; p += C) {
    for (let c = 0; c < C; c++) {
      const xval = xv[p + c]!;
      let d = dyv[p + c]!;
      if (code !== 0) {
        const z = xval * a[c]! + b[c]!;
        if (!(z > 0) || (code === 2 && z > 6)) d = 0;
      }
      s1[c] = s1[c]! + d;
      s2[c] = s2[c]! + d * (xval - mu[c]!) * s[c]!;
    }
  }
  const k1 = new Float32Array(C); // dx = a·dz + k1·(x − μ) + k0
  const k0 = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    dbv[c] = s1[c]!;
    dgv[c] = s2[c]!;
    k1[c] = (-a[c]! * s[c]! * s2[c]!) / M;
    k0[c] = (-a[c]! * s1[c]!) / M;
  }
  for (let p = 0; p < total; p += C) {
    for (let c = 0; c < C; c++) {
      const xval = xv[p + c]!;
      let d = dyv[p + c]!;
      if (code !== 0) {
        const z = xval * a[c]! + b[c]!;
        if (!(z > 0) || (code === 2 && z > 6)) d = 0;
      }
      dxv[p + c] = a[c]! * d + k1[c]! * (xval - mu[c]!) + k0[c]!;
    }
  }
  return [dx, dgamma, dbeta];
}

/** The moving-statistics update's factors as float32, as tf.mul(x, momentum) and tf.mul(x, 1 − momentum) round them. */
export function movingStatsFactors(momentum: number): { momentum: number; rest: number } {
  return { momentum: Math.fround(momentum), rest: Math.fround(1 - momentum) };
}

/**
 * SegMovingStats kernel body: the new moving mean and variance, moving·momentum + batch·(1 −
 * momentum) with each product rounded to float32 before the sum, the bits of the tf.mul/tf.add
 * version (ops/norm.ts updateMovingStats) in one call instead of six and two scalar uploads.
 */
export function movingStatsKernel(h: Host, movingMean: TensorInfo, movingVariance: TensorInfo, mean: TensorInfo, variance: TensorInfo, momentum: number): TensorInfo[] {
  const f = movingStatsFactors(momentum);
  const pairs: Array<[TensorInfo, TensorInfo]> = [
    [movingMean, mean],
    [movingVariance, variance],
  ];
  const outs = pairs.map(([moving]) => h.allocUninit([...moving.shape]));
  pairs.forEach(([moving, batch], k) => {
    const [a, b, o] = [h.f32(moving), h.f32(batch), h.f32(outs[k]!)];
    for (let i = 0; i < o.length; i++) o[i] = Math.fround(a[i]! * f.momentum) + Math.fround(b[i]! * f.rest);
  });
  return outs;
}

/** The result of the fused op: the activation output and the batch statistics (kept; caller disposes). */
export interface BatchNormActResult {
  y: tf.Tensor4D;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

function runMulti(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs, attrs);
  if (!Array.isArray(out)) throw new Error(`${name}: expected several outputs`);
  return out as tf.Tensor[];
}

/**
 * Differentiable training-mode batch norm + activation on seg's fused kernels (registered for
 * wasm and cpu by registerTrainingKernels). Gradients flow to x, gamma and beta; `mean` and
 * `variance` are the batch statistics for the moving-average update (not differentiated).
 */
export function batchNormAct(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, act: FusedActivation, epsilon: number): BatchNormActResult {
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const attrs = { act, epsilon };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, variance] = runMulti('SegBatchNormActForward', { x: xi, gamma: g, beta: b }, attrs) as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    save([xi, g, b, mean, variance]);
    // clones share the data; the caller may dispose them without touching the saved tensors
    stats = { mean: tf.keep(tf.clone(mean)), variance: tf.keep(tf.clone(variance)) };
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, sb, sm, sv] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        return runMulti('SegBatchNormActBackward', { dy: dy as tf.Tensor, x: sx, gamma: sg, beta: sb, mean: sm, variance: sv }, attrs);
      },
    };
  });
  const y = f(x, gamma, beta) as tf.Tensor4D;
  if (!stats) throw new Error('batchNormAct: statistics were not computed');
  return { y, ...stats };
}
