/**
 * Dense 2-D convolution gradients (NHWC, float32), for any stride, dilation and padding
 * ('same', 'valid', explicit):
 *
 *   Conv2DBackpropFilter  dW[K, Cout] = P[M, K]ᵀ · dY[M, Cout]      P = im2col(x)
 *   Conv2DBackpropInput   dX = col2im(dY[M, Cout] · W[K, Cout]ᵀ)
 *
 * with M = N·OH·OW output positions and K = KH·KW·Cin. On wasm both products run on seg's own
 * GEMMs (wasm/simd.ts): the filter gradient's Pᵀ·dY on gemmtn, the input gradient's dY·Wᵀ on gemmnn
 * (which also serves pointwise forward convolutions, conv2dPointwise); elsewhere, and on wasm with
 * SEG_WASM_GEMM=0, on the backend's own BatchMatMul (on wasm XNNPACK's GEMM, which
 * tfjs-backend-wasm uses only when neither operand is transposed and the batch is 1, so the
 * transposes are explicit). A pointwise convolution (1×1, stride 1, no padding) needs no
 * im2col/col2im at all.
 *
 * Both kernels also accept a `dilations` attribute, which tfjs's own Conv2DBackprop* kernels do not
 * have; seg's Conv2D gradient (gradients.ts) passes it, so dilated convolutions can be trained.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { type Host, reshaped } from './host.js';
import { runParts, splitRows } from './wasm/pool.js';
import { Scratch, simdFor } from './wasm/runtime.js';
import { GEMM_MC, type SimdExports } from './wasm/simd.js';

/** Tuning knobs (tests lower `im2colLimit` to exercise the chunked path, and switch the GEMM). */
export const convTuning = {
  /** Above this many elements an im2col/col2im buffer is built and consumed in row chunks. */
  im2colLimit: 1 << 22,
  /** Whether wasm's filter gradients and pointwise convolutions run on seg's own GEMMs (gemmtn, gemmnn) rather than XNNPACK's. */
  simdGemm: process.env['SEG_WASM_GEMM'] !== '0',
};

/** Multiply-adds from which gemmtn's columns are split into two parts (wasm/pool.ts). */
const GEMM_SPLIT_MACS = 1 << 20;

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Pair = number | [number, number];
type Shape4 = [number, number, number, number];

/** Attributes shared by the convolution backprop kernels (tfjs names). */
export interface ConvBackpropAttrs {
  strides: Pair;
  pad: Pad;
  dilations?: Pair;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Geometry of one convolution, NHWC. */
export interface ConvGeometry {
  N: number; H: number; W: number; C: number;
  OH: number; OW: number; COUT: number;
  KH: number; KW: number;
  SH: number; SW: number;
  DH: number; DW: number;
  top: number; left: number; bottom: number; right: number;
}

/** Geometry from tfjs's own conv_util (so that padding matches the forward kernels exactly). */
export function convGeometry(inShape: Shape4, filterShape: Shape4, a: ConvBackpropAttrs, depthwise: boolean): ConvGeometry {
  const ci = tf.backend_util.computeConv2DInfo(inShape, filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise, 'channelsLast');
  return {
    N: ci.batchSize, H: ci.inHeight, W: ci.inWidth, C: ci.inChannels,
    OH: ci.outHeight, OW: ci.outWidth, COUT: ci.outChannels,
    KH: ci.filterHeight, KW: ci.filterWidth,
    SH: ci.strideHeight, SW: ci.strideWidth,
    DH: ci.dilationHeight, DW: ci.dilationWidth,
    top: ci.padInfo.top, left: ci.padInfo.left, bottom: ci.padInfo.bottom, right: ci.padInfo.right,
  };
}

/** True when the NHWC layout and float32 dtype that seg's conv kernels need are given. */
export function convSupported(a: ConvBackpropAttrs, ...ts: TensorInfo[]): boolean {
  return (a.dataFormat === undefined || a.dataFormat === 'NHWC') && ts.every((t) => t.dtype === 'float32');
}

function isPointwise(g: ConvGeometry): boolean {
  return g.KH === 1 && g.KW === 1 && g.SH === 1 && g.SW === 1 && g.top === 0 && g.left === 0 && g.OH === g.H && g.OW === g.W;
}

/** Fill rows [m0, m0+rows) of the im2col matrix P[M, K] (K = KH·KW·C) from x. */
function im2col(g: ConvGeometry, xv: Float32Array, pv: Float32Array, m0: number, rows: number): void {
  const { H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  const K = KH * KW * C;
  for (let r = 0; r < rows; r++) {
    const m = m0 + r;
    const ox = m % OW;
    const oy = Math.floor(m / OW) % OH;
    const n = Math.floor(m / (OW * OH));
    let p = r * K;
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * SH + ky * DH - top;
      for (let kx = 0; kx < KW; kx++) {
        const ix = ox * SW + kx * DW - left;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
          pv.fill(0, p, p + C);
        } else if (C < 16) {
          const xo = ((n * H + iy) * W + ix) * C;
          for (let c = 0; c < C; c++) pv[p + c] = xv[xo + c]!;
        } else {
          const xo = ((n * H + iy) * W + ix) * C;
          pv.set(xv.subarray(xo, xo + C), p);
        }
        p += C;
      }
    }
  }
}

/** Fill Pᵀ [K, rows] (the transposed im2col matrix of rows [m0, m0+rows)) from x. */
function im2colT(g: ConvGeometry, xv: Float32Array, pt: Float32Array, m0: number, rows: number): void {
  const { H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  for (let r = 0; r < rows; r++) {
    const m = m0 + r;
    const ox = m % OW;
    const oy = Math.floor(m / OW) % OH;
    const n = Math.floor(m / (OW * OH));
    let k = 0;
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * SH + ky * DH - top;
      for (let kx = 0; kx < KW; kx++) {
        const ix = ox * SW + kx * DW - left;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
          for (let c = 0; c < C; c++) pt[(k + c) * rows + r] = 0;
        } else {
          const xo = ((n * H + iy) * W + ix) * C;
          for (let c = 0; c < C; c++) pt[(k + c) * rows + r] = xv[xo + c]!;
        }
        k += C;
      }
    }
  }
}

/** Scatter-add rows [m0, m0+rows) of G[M, K] into dx (the adjoint of im2col). */
function col2im(g: ConvGeometry, gv: Float32Array, dxv: Float32Array, m0: number, rows: number): void {
  const { H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  const K = KH * KW * C;
  for (let r = 0; r < rows; r++) {
    const m = m0 + r;
    const ox = m % OW;
    const oy = Math.floor(m / OW) % OH;
    const n = Math.floor(m / (OW * OH));
    let p = r * K;
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * SH + ky * DH - top;
      for (let kx = 0; kx < KW; kx++) {
        const ix = ox * SW + kx * DW - left;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
          const xo = ((n * H + iy) * W + ix) * C;
          for (let c = 0; c < C; c++) dxv[xo + c] = dxv[xo + c]! + gv[p + c]!;
        }
        p += C;
      }
    }
  }
}

/**
 * aᵀ·b on seg's GEMM (simd.ts gemmtn), which packs both operands itself in row passes: XNNPACK's
 * GEMM would need one of these activation-sized operands transposed and then packed afresh (a
 * gather of several ns per element). The output columns are split in two parts for two threads.
 */
function matMulTNSimd(h: Host, k: SimdExports, a: TensorInfo, b: TensorInfo): TensorInfo {
  const [R, P] = a.shape as [number, number];
  const Q = (b.shape as [number, number])[1];
  const out = h.alloc([P, Q]);
  const cols = splitRows(Q, Q >= 16 && R * P * Q >= GEMM_SPLIT_MACS ? 2 : 1, 8);
  const apFloats = 4 * Math.ceil(P / 4) * GEMM_MC;
  const sizes = cols.map(([n0, n1]) => apFloats + 8 * Math.ceil((n1 - n0) / 8) * GEMM_MC + 32);
  const s = new Scratch(h, sizes.reduce((x, y) => x + y, 0));
  try {
    let base = 0;
    const parts = cols.map(([n0, n1], p) => {
      const at = base;
      base += sizes[p]!;
      const bp = at + apFloats;
      return { fn: 'gemmtn', args: [h.ptr(a), h.ptr(b), h.ptr(out), R, P, Q, n0, n1, s.addr(at), s.addr(bp), s.addr(at + sizes[p]! - 32)] };
    });
    runParts(h, k, parts);
  } finally {
    s.dispose();
  }
  return out;
}

/** seg's SIMD kernels where the products run on gemmtn and gemmnn (wasm, unless switched off). */
const segGemm = (h: Host): SimdExports | undefined => (convTuning.simdGemm ? simdFor(h) : undefined);

/** aᵀ·b for a [R, P], b [R, Q] → [P, Q], through the backend's untransposed GEMM where that is fast. */
export function matMulTN(h: Host, a: TensorInfo, b: TensorInfo): TensorInfo {
  const [R, P] = a.shape as [number, number];
  const Q = (b.shape as [number, number])[1];
  const k = segGemm(h);
  if (k) return matMulTNSimd(h, k, a, b);
  if (h.name !== 'wasm') {
    return reshaped(h.run('BatchMatMul', { a: reshaped(a, [1, R, P]), b: reshaped(b, [1, R, Q]) }, { transposeA: true, transposeB: false }), [P, Q]);
  }
  // XNNPACK packs its second operand afresh for every new tensor (a gather at several ns per
  // element, more than a SIMD transpose), so the narrower operand is the one packed.
  if (P >= Q) {
    const at = h.run('Transpose', { x: reshaped(a, [R, P]) }, { perm: [1, 0] });
    const out = h.run('BatchMatMul', { a: reshaped(at, [1, P, R]), b: reshaped(b, [1, R, Q]) }, { transposeA: false, transposeB: false });
    h.dispose(at);
    return reshaped(out, [P, Q]);
  }
  // (bᵀ·a)ᵀ: a packed, then the small [Q, P] result transposed.
  const bt = h.run('Transpose', { x: reshaped(b, [R, Q]) }, { perm: [1, 0] });
  const qp = h.run('BatchMatMul', { a: reshaped(bt, [1, Q, R]), b: reshaped(a, [1, R, P]) }, { transposeA: false, transposeB: false });
  h.dispose(bt);
  const out = h.run('Transpose', { x: reshaped(qp, [Q, P]) }, { perm: [1, 0] });
  h.dispose(qp);
  return out;
}

/** The activations gemmnn applies after the bias (simd.ts): none, relu, relu6. */
export type GemmActivation = 'linear' | 'relu' | 'relu6';
const GEMM_ACT: Readonly<Record<GemmActivation, number>> = { linear: 0, relu: 1, relu6: 2 };

/**
 * act(bias + a·b) for a [M, K] and a small b (a filter) on seg's GEMM (simd.ts gemmnn): b packed
 * once (as bᵀ's transpose when `bT`, b given as [N, K]), the rows of a split in two parts for two
 * threads; bias [N] or none.
 */
function matMulNNSimd(h: Host, k: SimdExports, a: TensorInfo, b: TensorInfo, bT: boolean, bias?: TensorInfo, act: GemmActivation = 'linear'): TensorInfo {
  const [M, K] = a.shape as [number, number];
  const N = (b.shape as [number, number])[bT ? 0 : 1];
  const out = h.allocUninit([M, N]);
  const panels = 8 * Math.ceil(N / 8);
  const packed = panels * K;
  const rows = splitRows(M, M >= 8 && M * K * N >= GEMM_SPLIT_MACS ? 2 : 1, 4);
  // slots: packed b [0, packed) | bias [packed, packed + panels) | each part's 32 floats for partial tiles
  const s = new Scratch(h, packed + panels + 32 * rows.length);
  try {
    k.gemmpack(h.ptr(b), s.addr(0), K, N, bT ? 1 : N, bT ? K : 1);
    const biasPanel = s.f32(packed, panels);
    biasPanel.fill(0);
    if (bias) biasPanel.set(h.f32(bias).subarray(0, N));
    const args = (m0: number, m1: number, p: number) => [h.ptr(a), s.addr(0), h.ptr(out), m0, m1, K, N, s.addr(packed + panels + 32 * p), s.addr(packed), GEMM_ACT[act]];
    runParts(h, k, rows.map(([m0, m1], p) => ({ fn: 'gemmnn', args: args(m0, m1, p) })));
  } finally {
    s.dispose();
  }
  return out;
}

/** a·bᵀ for a [R, P], b [Q, P] → [R, Q]; b is the small operand (a filter). */
function matMulNT(h: Host, a: TensorInfo, b: TensorInfo): TensorInfo {
  const [R, P] = a.shape as [number, number];
  const Q = (b.shape as [number, number])[0];
  const k = segGemm(h);
  if (k) return matMulNNSimd(h, k, a, b, true);
  if (h.name !== 'wasm') {
    return reshaped(h.run('BatchMatMul', { a: reshaped(a, [1, R, P]), b: reshaped(b, [1, Q, P]) }, { transposeA: false, transposeB: true }), [R, Q]);
  }
  const bt = h.run('Transpose', { x: reshaped(b, [Q, P]) }, { perm: [1, 0] });
  const out = h.run('BatchMatMul', { a: reshaped(a, [1, R, P]), b: reshaped(bt, [1, P, Q]) }, { transposeA: false, transposeB: false });
  h.dispose(bt);
  return reshaped(out, [R, Q]);
}

function addInto(h: Host, acc: TensorInfo, part: TensorInfo): void {
  const av = h.f32(acc);
  const pv = h.f32(part);
  for (let i = 0; i < av.length; i++) av[i] = (av[i] as number) + (pv[i] as number);
}

/** Copy rows [m0, m0+rows) of a row-major [M, Q] tensor into a new [rows, Q] tensor. */
function copyRows(h: Host, t: TensorInfo, m0: number, rows: number): TensorInfo {
  const Q = t.shape[1] as number;
  const out = h.allocUninit([rows, Q]);
  h.f32(out).set(h.f32(t).subarray(m0 * Q, (m0 + rows) * Q));
  return out;
}

/** Conv2DBackpropFilter: inputs {x, dy}, attrs {strides, pad, dilations?, dimRoundingMode?, filterShape}. */
export function conv2dBackpropFilter(h: Host, x: TensorInfo, dy: TensorInfo, filterShape: Shape4, a: ConvBackpropAttrs): TensorInfo {
  const g = convGeometry(x.shape as Shape4, filterShape, a, false);
  const M = g.N * g.OH * g.OW;
  const K = g.KH * g.KW * g.C;
  const dy2 = reshaped(dy, [M, g.COUT]);
  if (isPointwise(g)) return reshaped(matMulTN(h, reshaped(x, [M, K]), dy2), [...filterShape]);

  const chunk = Math.max(1, Math.min(M, Math.floor(convTuning.im2colLimit / K)));
  let acc: TensorInfo | undefined;
  for (let m0 = 0; m0 < M; m0 += chunk) {
    const rows = Math.min(chunk, M - m0);
    const dyc = rows === M ? dy2 : copyRows(h, dy2, m0, rows);
    let part: TensorInfo;
    if (h.name === 'wasm' && !segGemm(h)) {
      // Pᵀ built directly, so that XNNPACK's GEMM takes it untransposed
      const pt = h.allocUninit([K, rows]);
      im2colT(g, h.f32(x), h.f32(pt), m0, rows);
      part = reshaped(h.run('BatchMatMul', { a: reshaped(pt, [1, K, rows]), b: reshaped(dyc, [1, rows, g.COUT]) }, { transposeA: false, transposeB: false }), [K, g.COUT]);
      h.dispose(pt);
    } else {
      const p = h.allocUninit([rows, K]);
      im2col(g, h.f32(x), h.f32(p), m0, rows);
      part = matMulTN(h, p, dyc);
      h.dispose(p);
    }
    if (dyc !== dy2) h.dispose(dyc);
    if (acc === undefined) acc = part;
    else {
      addInto(h, acc, part);
      h.dispose(part);
    }
  }
  return reshaped(acc as TensorInfo, [...filterShape]);
}

/**
 * Conv2D (or FusedConv2D with a bias [Cout] and relu/relu6) where it is a pointwise convolution on
 * seg's GEMM (wasm, simdGemm): act(bias + x [M, Cin] · w [Cin, Cout]); undefined elsewhere (the
 * stock kernel runs).
 */
export function conv2dPointwise(h: Host, x: TensorInfo, filter: TensorInfo, a: ConvBackpropAttrs, bias?: TensorInfo, act: GemmActivation = 'linear'): TensorInfo | undefined {
  const k = segGemm(h);
  if (!k || !convSupported(a, x, filter)) return undefined;
  const g = convGeometry(x.shape as Shape4, filter.shape as Shape4, a, false);
  if (!isPointwise(g)) return undefined;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== g.COUT)) return undefined;
  const M = g.N * g.H * g.W;
  return reshaped(matMulNNSimd(h, k, reshaped(x, [M, g.C]), reshaped(filter, [g.C, g.COUT]), false, bias, act), [g.N, g.H, g.W, g.COUT]);
}

/** Conv2DBackpropInput: inputs {dy, filter}, attrs {inputShape, strides, pad, dilations?, dimRoundingMode?}. */
export function conv2dBackpropInput(h: Host, dy: TensorInfo, filter: TensorInfo, inputShape: Shape4, a: ConvBackpropAttrs): TensorInfo {
  const g = convGeometry(inputShape, filter.shape as Shape4, a, false);
  const M = g.N * g.OH * g.OW;
  const K = g.KH * g.KW * g.C;
  const dy2 = reshaped(dy, [M, g.COUT]);
  const w2 = reshaped(filter, [K, g.COUT]);
  if (isPointwise(g)) return reshaped(matMulNT(h, dy2, w2), [...inputShape]);

  const dx = h.alloc([...inputShape]);
  const chunk = Math.max(1, Math.min(M, Math.floor(convTuning.im2colLimit / K)));
  for (let m0 = 0; m0 < M; m0 += chunk) {
    const rows = Math.min(chunk, M - m0);
    const dyc = rows === M ? dy2 : copyRows(h, dy2, m0, rows);
    const gm = matMulNT(h, dyc, w2);
    if (dyc !== dy2) h.dispose(dyc);
    col2im(g, h.f32(gm), h.f32(dx), m0, rows);
    h.dispose(gm);
  }
  return dx;
}

/** Read the conv attributes tfjs passes to a backprop kernel. */
export function convAttrs(attrs: NamedAttrMap | undefined): ConvBackpropAttrs {
  const at = (attrs ?? {}) as Record<string, unknown>;
  const out: ConvBackpropAttrs = { strides: at['strides'] as Pair, pad: at['pad'] as Pad };
  if (at['dilations'] != null) out.dilations = at['dilations'] as Pair;
  if (at['dataFormat'] != null) out.dataFormat = at['dataFormat'] as 'NHWC' | 'NCHW';
  if (at['dimRoundingMode'] != null) out.dimRoundingMode = at['dimRoundingMode'] as 'floor' | 'round' | 'ceil';
  return out;
}
