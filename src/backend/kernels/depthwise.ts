/**
 * Depthwise 2-D convolution gradients (NHWC, float32), any stride, dilation, padding and channel
 * multiplier Q (filter [KH, KW, C, Q], output channel c·Q + q):
 *
 *   DepthwiseConv2dNativeBackpropFilter  dW[ky,kx,c,q] = Σ_{n,oy,ox} x[n, iy, ix, c] · dy[n, oy, ox, cQ+q]
 *   DepthwiseConv2dNativeBackpropInput   dx[n,iy,ix,c] = Σ_{ky,kx,q}  w[ky,kx,c,q] · dy[n, oy, ox, cQ+q]
 *
 * with iy = oy·SH + ky·DH − top, ix = ox·SW + kx·DW − left. Plain loops over the tensors' own
 * memory (the wasm heap or the cpu backend's arrays): channels are innermost and contiguous.
 * Accumulation of the filter gradient is in float64.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, type ConvGeometry, convGeometry } from './conv.js';
import type { Host } from './host.js';
import { Scratch, simdFor } from './wasm/runtime.js';
import { runParts, splitRows } from './wasm/pool.js';
import type { SimdExports } from './wasm/simd.js';

type Shape4 = [number, number, number, number];

/**
 * The filter gradient on the SIMD kernel (multiplier 1): per output row in float32, folded into
 * float64; the batch split in two parts (wasm/pool.ts), each with its own accumulators, added in
 * part order.
 */
function backpropFilterSimd(h: Host, k: SimdExports, x: TensorInfo, dy: TensorInfo, filterShape: Shape4, g: ConvGeometry): TensorInfo {
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  const KC = KH * KW * C;
  const out = h.allocUninit([...filterShape]);
  const images = splitRows(N, Math.min(N, 2));
  const st = 4 * KC; // per part: out64 [0, 2KC) | rowacc32 [2KC, 3KC) | unused (even, for 8-byte alignment)
  const s = new Scratch(h, images.length * st);
  try {
    runParts(
      h,
      k,
      images.map(([n0, n1], p) => ({
        fn: 'dwfilter',
        args: [h.ptr(x) + 4 * n0 * H * W * C, h.ptr(dy) + 4 * n0 * OH * OW * C, s.addr(p * st + 2 * KC), s.addr(p * st), n1 - n0, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left],
        zero: [s.addr(p * st), 4 * st] as const,
      })),
    );
    const total = new Float64Array(KC);
    images.forEach((_, p) => {
      const v = s.f64(p * st, KC);
      for (let i = 0; i < KC; i++) total[i] = total[i]! + v[i]!;
    });
    h.f32(out).set(total);
  } finally {
    s.dispose();
  }
  return out;
}

/** DepthwiseConv2dNativeBackpropFilter: inputs {x, dy}, attrs {strides, pad, dilations, dimRoundingMode, filterShape}. */
export function depthwiseBackpropFilter(h: Host, x: TensorInfo, dy: TensorInfo, filterShape: Shape4, a: ConvBackpropAttrs): TensorInfo {
  const g = convGeometry(x.shape as Shape4, filterShape, a, true);
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  const Q = filterShape[3];
  const simd = Q === 1 ? simdFor(h) : undefined;
  if (simd) return backpropFilterSimd(h, simd, x, dy, filterShape, g);
  const CQ = C * Q;
  const acc = new Float64Array(KH * KW * CQ);
  const out = h.allocUninit([...filterShape]);
  const xv = h.f32(x);
  const dyv = h.f32(dy);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ky = 0; ky < KH; ky++) {
        const iy = oy * SH + ky * DH - top;
        if (iy < 0 || iy >= H) continue;
        for (let ox = 0; ox < OW; ox++) {
          const yo = ((n * OH + oy) * OW + ox) * CQ;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx * DW - left;
            if (ix < 0 || ix >= W) continue;
            const xo = ((n * H + iy) * W + ix) * C;
            const wo = (ky * KW + kx) * CQ;
            if (Q === 1) {
              for (let c = 0; c < C; c++) acc[wo + c] = acc[wo + c]! + (xv[xo + c] as number) * (dyv[yo + c] as number);
            } else {
              for (let c = 0; c < C; c++) {
                const xval = xv[xo + c] as number;
                for (let q = 0; q < Q; q++) acc[wo + c * Q + q] = acc[wo + c * Q + q]! + xval * (dyv[yo + c * Q + q] as number);
              }
            }
          }
        }
      }
    }
  }
  h.f32(out).set(acc);
  return out;
}

/**
 * dx of a stride-1 depthwise convolution is itself a depthwise convolution: the correlation of dy
 * with the spatially reversed filter, padded by (KH−1)·DH − top above and (KH−1)·DH − bottom below
 * (likewise for the width). On wasm that runs in XNNPACK's depthwise kernel.
 */
function backpropInputByForward(h: Host, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { C, KH, KW, DH, DW } = g;
  const rev = h.allocUninit([KH, KW, C, 1]);
  const rv = h.f32(rev);
  const wv = h.f32(filter);
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const src = ((KH - 1 - ky) * KW + (KW - 1 - kx)) * C;
      rv.set(wv.subarray(src, src + C), (ky * KW + kx) * C);
    }
  }
  const pad = [[0, 0], [(KH - 1) * DH - g.top, (KH - 1) * DH - g.bottom], [(KW - 1) * DW - g.left, (KW - 1) * DW - g.right], [0, 0]];
  const out = h.run('DepthwiseConv2dNative', { x: dy, filter: rev }, { strides: [1, 1], pad, dilations: [DH, DW], dataFormat: 'NHWC' });
  h.dispose(rev);
  return out;
}

/** DepthwiseConv2dNativeBackpropInput: inputs {dy, filter}, attrs {strides, pad, dilations, dimRoundingMode, inputShape}. */
export function depthwiseBackpropInput(h: Host, dy: TensorInfo, filter: TensorInfo, inputShape: Shape4, a: ConvBackpropAttrs): TensorInfo {
  const g = convGeometry(inputShape, filter.shape as Shape4, a, true);
  const padsFit = g.top <= (g.KH - 1) * g.DH && g.bottom <= (g.KH - 1) * g.DH && g.left <= (g.KW - 1) * g.DW && g.right <= (g.KW - 1) * g.DW;
  if (h.name === 'wasm' && g.SH === 1 && g.SW === 1 && filter.shape[3] === 1 && padsFit) return backpropInputByForward(h, dy, filter, g);
  const simd = filter.shape[3] === 1 ? simdFor(h) : undefined;
  if (simd) {
    const dx = h.alloc([...inputShape]);
    // images are independent: the batch split in two parts (wasm/pool.ts)
    const { H, W, C, OH, OW } = g;
    runParts(
      h,
      simd,
      splitRows(g.N, Math.min(g.N, 2)).map(([n0, n1]) => ({
        fn: 'dwinput',
        args: [h.ptr(dx) + 4 * n0 * H * W * C, h.ptr(dy) + 4 * n0 * OH * OW * C, h.ptr(filter), 0, n1 - n0, H, W, C, OH, OW, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.top, g.left],
      })),
    );
    return dx;
  }
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  const Q = filter.shape[3] as number;
  const CQ = C * Q;
  const out = h.alloc([...inputShape]);
  const dxv = h.f32(out);
  const dyv = h.f32(dy);
  const wv = h.f32(filter);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ky = 0; ky < KH; ky++) {
        const iy = oy * SH + ky * DH - top;
        if (iy < 0 || iy >= H) continue;
        for (let ox = 0; ox < OW; ox++) {
          const yo = ((n * OH + oy) * OW + ox) * CQ;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx * DW - left;
            if (ix < 0 || ix >= W) continue;
            const xo = ((n * H + iy) * W + ix) * C;
            const wo = (ky * KW + kx) * CQ;
            if (Q === 1) {
              for (let c = 0; c < C; c++) dxv[xo + c] = dxv[xo + c]! + (wv[wo + c] as number) * (dyv[yo + c] as number);
            } else {
              for (let c = 0; c < C; c++) {
                let s = 0;
                for (let q = 0; q < Q; q++) s += (wv[wo + c * Q + q] as number) * (dyv[yo + c * Q + q] as number);
                dxv[xo + c] = dxv[xo + c]! + s;
              }
            }
          }
        }
      }
    }
  }
  return out;
}
