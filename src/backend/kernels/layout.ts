/**
 * Data-movement and reduction kernels that tfjs-backend-wasm does slowly:
 *
 *   Transpose   wasm's generic kernel moves ≈ 30 ns per element on a [8192, 256] matrix; here
 *               dimensions are merged first, a permutation that keeps the innermost axis becomes
 *               a sequence of contiguous block copies, any other one a 16×16-tiled copy.
 *   Sum, Mean   wasm transposes the whole tensor so that the reduced axes come last; here any
 *               contiguous group of reduced axes is summed in place ([A, R, B] → [A, B]): per-channel
 *               sums of NHWC tensors (axes 0, 1, 2) read the input once, in order.
 *   SplitV      (the gradient of Concat) wasm slices element by element; here contiguous runs.
 *
 * float32 only (plus any 4-byte dtype for Transpose/SplitV, which only move data); other cases
 * return undefined and the caller falls back to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Host } from './host.js';
import { sizeOf } from './host.js';
import { Scratch, simdFor } from './wasm/runtime.js';

/** Shape and permutation with size-1 axes dropped and axes that stay adjacent merged. */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keep = shape.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
  if (keep.length === 0) return { shape: [1], perm: [0] };
  // perm restricted to non-unit axes, renumbered
  const rank = new Map(keep.map((ax, i) => [ax, i]));
  const p = perm.filter((ax) => rank.has(ax)).map((ax) => rank.get(ax)!);
  const s = keep.map((ax) => shape[ax]!);
  // merge runs i, i+1 that appear consecutively in p
  const groups: number[][] = [];
  for (const ax of p) {
    const last = groups.at(-1);
    if (last && last.at(-1)! + 1 === ax) last.push(ax);
    else groups.push([ax]);
  }
  const order = [...groups].sort((a, b) => a[0]! - b[0]!);
  const newShape = order.map((g) => g.reduce((acc, ax) => acc * s[ax]!, 1));
  const index = new Map(order.map((g, i) => [g[0]!, i]));
  const newPerm = groups.map((g) => index.get(g[0]!)!);
  return { shape: newShape, perm: newPerm };
}

type Arr = Float32Array | Int32Array;

function view(h: Host, t: TensorInfo): Arr {
  if (t.dtype === 'float32') return h.f32(t);
  return h.i32(t);
}

/** out = transpose(x, perm) into `out` (same size), x of `shape`. */
export function transposeInto(x: Arr, out: Arr, shape: readonly number[], perm: readonly number[]): void {
  const { shape: s, perm: p } = simplifyPermutation(shape, perm);
  const r = s.length;
  if (r === 1) {
    out.set(x.subarray(0, out.length));
    return;
  }
  const inStride = new Array<number>(r);
  inStride[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) inStride[i] = inStride[i + 1]! * s[i + 1]!;
  const outShape = p.map((ax) => s[ax]!);
  // stride in x of each output axis
  const st = p.map((ax) => inStride[ax]!);
  if (p[r - 1] === r - 1) {
    // innermost axis kept: copy contiguous blocks of B elements, odometer over the rest
    const B = s[r - 1]!;
    const outer = outShape.slice(0, r - 1);
    const ost = st.slice(0, r - 1);
    const idx = new Array<number>(r - 1).fill(0);
    const n = sizeOf(outer);
    let src = 0;
    for (let o = 0, dst = 0; o < n; o++, dst += B) {
      if (B >= 16) out.set(x.subarray(src, src + B), dst);
      else for (let b = 0; b < B; b++) out[dst + b] = x[src + b]!;
      for (let k = r - 2; k >= 0; k--) {
        idx[k]!++;
        src += ost[k]!;
        if (idx[k]! < outer[k]!) break;
        src -= ost[k]! * outer[k]!;
        idx[k] = 0;
      }
    }
    return;
  }
  // The output's innermost axis J = r-1 reads x with stride st[J]; the output axis K that holds
  // x's innermost axis reads x contiguously. Tile over (K, J), odometer over the other axes.
  const J = r - 1;
  const K = p.indexOf(r - 1);
  const outStride = new Array<number>(r);
  outStride[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) outStride[i] = outStride[i + 1]! * outShape[i + 1]!;
  const others = [...Array(r).keys()].filter((i) => i !== J && i !== K);
  const nJ = outShape[J]!;
  const nK = outShape[K]!;
  const sJ = st[J]!;
  const oK = outStride[K]!;
  const T = 16;
  const idx = new Array<number>(others.length).fill(0);
  const nOther = others.reduce((acc, ax) => acc * outShape[ax]!, 1);
  let srcBase = 0;
  let dstBase = 0;
  for (let o = 0; o < nOther; o++) {
    for (let k0 = 0; k0 < nK; k0 += T) {
      const k1 = Math.min(nK, k0 + T);
      for (let j0 = 0; j0 < nJ; j0 += T) {
        const j1 = Math.min(nJ, j0 + T);
        for (let j = j0; j < j1; j++) {
          const srow = srcBase + j * sJ;
          const drow = dstBase + j;
          for (let k = k0; k < k1; k++) out[drow + k * oK] = x[srow + k]!;
        }
      }
    }
    for (let q = others.length - 1; q >= 0; q--) {
      const ax = others[q]!;
      idx[q]!++;
      srcBase += st[ax]!;
      dstBase += outStride[ax]!;
      if (idx[q]! < outShape[ax]!) break;
      srcBase -= st[ax]! * outShape[ax]!;
      dstBase -= outStride[ax]! * outShape[ax]!;
      idx[q] = 0;
    }
  }
}

/** Transpose kernel body; undefined for dtypes it does not move. */
export function transposeKernel(h: Host, x: TensorInfo, perm: number[]): TensorInfo | undefined {
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
  const outShape = perm.map((ax) => x.shape[ax]!);
  const out = h.allocUninit(outShape, x.dtype);
  const k = simdFor(h);
  const s = simplifyPermutation(x.shape, perm);
  if (k && s.shape.length === 2 && s.perm[0] === 1) {
    // a plain matrix transpose (4-byte elements of either dtype)
    k.transpose2d(h.ptr(x), h.ptr(out), s.shape[0]!, s.shape[1]!);
    return out;
  }
  if (k && s.shape.length === 3 && s.perm[0] === 0 && s.perm[1] === 2 && s.perm[2] === 1) {
    // a batch of matrix transposes
    const [B, R, C] = s.shape as [number, number, number];
    for (let i = 0; i < B; i++) k.transpose2d(h.ptr(x) + 4 * i * R * C, h.ptr(out) + 4 * i * R * C, R, C);
    return out;
  }
  transposeInto(view(h, x), view(h, out), x.shape, perm);
  return out;
}

/** The reduction as [A, R, B] (out[a, b] = Σ_r x[a, r, b]) when the reduced axes are contiguous. */
export function reductionGeometry(shape: readonly number[], axes: readonly number[]): { A: number; R: number; B: number } | undefined {
  const rank = shape.length;
  const ax = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
  if (ax.length === 0) return undefined;
  const isReduced = (i: number) => ax.includes(i) || shape[i] === 1;
  // reduced axes (ignoring size-1 axes) must form one contiguous run
  const nonUnit = [...Array(rank).keys()].filter((i) => shape[i] !== 1);
  const flags = nonUnit.map((i) => isReduced(i) && ax.includes(i));
  const first = flags.indexOf(true);
  const last = flags.lastIndexOf(true);
  if (first < 0) return { A: sizeOf(shape), R: 1, B: 1 };
  for (let i = first; i <= last; i++) if (!flags[i]) return undefined;
  const A = nonUnit.slice(0, first).reduce((acc, i) => acc * shape[i]!, 1);
  const R = nonUnit.slice(first, last + 1).reduce((acc, i) => acc * shape[i]!, 1);
  const B = nonUnit.slice(last + 1).reduce((acc, i) => acc * shape[i]!, 1);
  return { A, R, B };
}

/** out[a, b] = scale · Σ_r x[a, r, b], accumulated in float64. */
export function reduceSum(x: Float32Array, out: Float32Array, A: number, R: number, B: number, scale: number): void {
  const acc = new Float64Array(B);
  for (let a = 0; a < A; a++) {
    acc.fill(0);
    let p = a * R * B;
    for (let r = 0; r < R; r++, p += B) {
      for (let b = 0; b < B; b++) acc[b] = acc[b]! + x[p + b]!;
    }
    const o = a * B;
    for (let b = 0; b < B; b++) out[o + b] = acc[b]! * scale;
  }
}

/** Sum / Mean kernel body; undefined where the stock kernel should run (non-float32, scattered axes). */
export function reduceKernel(h: Host, x: TensorInfo, axis: number | number[] | null | undefined, keepDims: boolean, mean: boolean): TensorInfo | undefined {
  if (x.dtype !== 'float32') return undefined;
  // null/undefined: every axis (tfjs's convention)
  const axes = tf.util.parseAxisParam((axis ?? null) as number | number[], x.shape);
  const g = reductionGeometry(x.shape, axes);
  if (!g) return undefined;
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const out = h.allocUninit(outShape);
  const k = simdFor(h);
  if (k && g.B >= 4) {
    const s = new Scratch(h, 3 * g.B);
    try {
      for (let a = 0; a < g.A; a++) {
        s.f32(0, 3 * g.B).fill(0);
        k.colsum(h.ptr(x) + 4 * a * g.R * g.B, g.R, g.B, s.addr(2 * g.B), s.addr(0));
        const sum = s.f64(0, g.B);
        const ov = h.f32(out);
        const scale = mean ? 1 / g.R : 1;
        for (let b = 0; b < g.B; b++) ov[a * g.B + b] = sum[b]! * scale;
      }
    } finally {
      s.dispose();
    }
    return out;
  }
  reduceSum(h.f32(x), h.f32(out), g.A, g.R, g.B, mean ? 1 / g.R : 1);
  return out;
}

/** SplitV kernel body: `sizes` along `axis` (already resolved); undefined for other dtypes. */
export function splitKernel(h: Host, x: TensorInfo, sizes: number[], axis: number): TensorInfo[] | undefined {
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const D = x.shape[axis]!;
  const dtype = x.dtype;
  const outs = sizes.map((s) => h.allocUninit(x.shape.map((d, i) => (i === axis ? s : d)), dtype));
  const xv = view(h, x);
  let off = 0;
  for (let k = 0; k < sizes.length; k++) {
    const run = sizes[k]! * inner;
    const ov = view(h, outs[k]!);
    for (let o = 0; o < outer; o++) {
      const src = (o * D + off) * inner;
      ov.set(xv.subarray(src, src + run), o * run);
    }
    off += sizes[k]!;
  }
  return outs;
}
