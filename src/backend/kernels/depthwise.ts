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
import { type ConvBackpropAttrs, convGeometry } from './conv.js';
import type { Host } from './host.js';

type Shape4 = [number, number, number, number];

/** DepthwiseConv2dNativeBackpropFilter: inputs {x, dy}, attrs {strides, pad, dilations, dimRoundingMode, filterShape}. */
export function depthwiseBackpropFilter(h: Host, x: TensorInfo, dy: TensorInfo, filterShape: Shape4, a: ConvBackpropAttrs): TensorInfo {
  const g = convGeometry(x.shape as Shape4, filterShape, a, true);
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left } = g;
  const Q = filterShape[3];
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

/** DepthwiseConv2dNativeBackpropInput: inputs {dy, filter}, attrs {strides, pad, dilations, dimRoundingMode, inputShape}. */
export function depthwiseBackpropInput(h: Host, dy: TensorInfo, filter: TensorInfo, inputShape: Shape4, a: ConvBackpropAttrs): TensorInfo {
  const g = convGeometry(inputShape, filter.shape as Shape4, a, true);
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
