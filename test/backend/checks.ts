/**
 * Kernel-level equivalence checks shared by the wasm and cpu kernel tests. Each check runs seg's
 * registered kernel on the backend under test and an independent reference on the pure-JS cpu
 * backend's *stock* kernels, and returns the max-norm relative errors.
 *
 * References:
 *  - dilation 1: tfjs's stock cpu backprop kernel;
 *  - dilation > 1 (tfjs's stock backprop kernels have no dilation): the stock cpu kernel applied to
 *    the equivalent undilated filter (taps spread out with zeros), the filter gradient read back at
 *    the dilated taps;
 *  - always: the adjoint identity ⟨conv(x, w), dy⟩ = ⟨x, dX⟩ = ⟨w, dW⟩ with conv the stock forward.
 *  - resize: dx = Ryᵀ·dy·Rx with the per-axis interpolation matrices read off the backend's own
 *    stock forward kernel (fed one-hot images), plus the stock gradient where it is right
 *    (legacy/align-corners modes; on cpu square images only).
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { stockKernel } from '../../src/backend/kernels/index.js';
import { Rng } from '../../src/util/rng.js';
import type { ConvCase, ResizeCase } from './cases.js';
import { type Arr, contractFilter, dot, expandFilter, rand, registered, relErr, runKernel, size } from './helpers.js';

type Backend = 'cpu' | 'wasm';

function stock(name: string, backend: Backend) {
  const k = stockKernel(name, backend);
  if (!k) throw new Error(`no stock ${name} on ${backend}`);
  return k;
}

/** Errors of one convolution case: filter gradient, input gradient, adjoint identities. */
export interface ConvErrors {
  dW: number;
  dX: number;
  adjointX: number;
  adjointW: number;
}

function caseSeed(c: ConvCase | ResizeCase): number {
  let h = 17;
  for (const ch of c.name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

/** Check seg's (depthwise) conv backprop kernels on `backend` for one case. */
export function checkConv(backend: Backend, c: ConvCase, depthwise: boolean): ConvErrors {
  const rng = new Rng(caseSeed(c));
  const x = rand(rng, [...c.x]);
  const w = rand(rng, [...c.w]);
  const fwdName = depthwise ? 'DepthwiseConv2dNative' : 'Conv2D';
  const filterName = depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
  const inputName = depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
  const base: NamedAttrMap = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
  const y = runKernel('cpu', stock(fwdName, 'cpu'), { x, filter: w }, { ...base, dilations: c.dilations });
  const dy = rand(rng, y.shape);

  const mineW = runKernel(backend, registered(filterName, backend), { x, dy }, { ...base, dilations: c.dilations, filterShape: c.w });
  const mineX = runKernel(backend, registered(inputName, backend), { dy, filter: w }, { ...base, dilations: c.dilations, inputShape: c.x });

  const [dh, dwd] = c.dilations;
  const dilated = dh !== 1 || dwd !== 1;
  const we = dilated ? expandFilter(w, dh, dwd) : w;
  const refWe = runKernel('cpu', stock(filterName, 'cpu'), { x, dy }, { ...base, dilations: [1, 1], filterShape: we.shape });
  const refW = dilated ? contractFilter(refWe, c.w[0], c.w[1], dh, dwd) : refWe;
  const refX = runKernel('cpu', stock(inputName, 'cpu'), { dy, filter: we }, { ...base, dilations: [1, 1], inputShape: c.x });

  const yd = dot(y, dy);
  const scale = Math.max(1e-12, sumAbsProd(y, dy));
  return {
    dW: relErr(mineW, refW),
    dX: relErr(mineX, refX),
    adjointX: Math.abs(dot(x, mineX) - yd) / scale,
    adjointW: Math.abs(dot(w, mineW) - yd) / scale,
  };
}

function sumAbsProd(a: Arr, b: Arr): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! * b.data[i]!);
  return s;
}

/** Per-axis interpolation matrix R[o, i] of `backend`'s stock ResizeBilinear forward. */
export function axisMatrix(backend: Backend, inSize: number, outSize: number, alongHeight: boolean, attrs: NamedAttrMap): Float64Array {
  const eye = new Float32Array(inSize * inSize);
  for (let i = 0; i < inSize; i++) eye[i * inSize + i] = 1;
  const images: Arr = { shape: alongHeight ? [1, inSize, 1, inSize] : [1, 1, inSize, inSize], data: eye };
  const out = runKernel(backend, stock('ResizeBilinear', backend), { images }, { ...attrs, size: alongHeight ? [outSize, 1] : [1, outSize] });
  return Float64Array.from(out.data); // [outSize, inSize] either way
}

/** dx = Ryᵀ·dy·Rx per image and channel, in float64. */
export function resizeGradReference(backend: Backend, c: ResizeCase, dy: Arr): Arr {
  const [N, H, W, C] = c.x;
  const [OH, OW] = c.size;
  const attrs: NamedAttrMap = { alignCorners: c.alignCorners, halfPixelCenters: c.halfPixelCenters };
  const ry = axisMatrix(backend, H, OH, true, attrs);
  const rx = axisMatrix(backend, W, OW, false, attrs);
  const out = new Float64Array(size(c.x));
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let iy = 0; iy < H; iy++) {
          const wy = ry[oy * H + iy]!;
          if (wy === 0) continue;
          for (let ix = 0; ix < W; ix++) {
            const wgt = wy * rx[ox * W + ix]!;
            if (wgt === 0) continue;
            for (let ch = 0; ch < C; ch++) {
              const o = ((n * H + iy) * W + ix) * C + ch;
              out[o] = out[o]! + wgt * dy.data[((n * OH + oy) * OW + ox) * C + ch]!;
            }
          }
        }
  return { shape: [...c.x], data: Float32Array.from(out) };
}

/** Errors of one resize case: against the matrix reference, and the adjoint identity. */
export interface ResizeErrors {
  grad: number;
  adjoint: number;
  /** Against the stock gradient, where that one is right (else NaN). */
  stock: number;
}

/** Check seg's ResizeBilinearGrad on `backend` for one case. */
export function checkResize(backend: Backend, c: ResizeCase): ResizeErrors {
  const rng = new Rng(caseSeed(c));
  const x = rand(rng, [...c.x]);
  const attrs: NamedAttrMap = { alignCorners: c.alignCorners, halfPixelCenters: c.halfPixelCenters, size: c.size };
  const y = runKernel(backend, stock('ResizeBilinear', backend), { images: x }, attrs);
  const dy = rand(rng, y.shape);
  const mine = runKernel(backend, registered('ResizeBilinearGrad', backend), { images: x, dy }, attrs);
  const ref = resizeGradReference(backend, c, dy);
  const scale = Math.max(1e-12, sumAbsProd(y, dy));
  const stockRight = !c.halfPixelCenters && (backend === 'wasm' || c.x[1] === c.x[2]);
  const stockErr = stockRight ? relErr(mine, runKernel(backend, stock('ResizeBilinearGrad', backend), { images: x, dy }, attrs)) : NaN;
  return { grad: relErr(mine, ref), adjoint: Math.abs(dot(x, mine) - dot(y, dy)) / scale, stock: stockErr };
}
