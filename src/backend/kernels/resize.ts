/**
 * ResizeBilinearGrad that is the exact adjoint of tfjs's ResizeBilinear forward, in all three
 * coordinate modes (legacy, alignCorners, halfPixelCenters).
 *
 * tfjs 4.22's own gradient kernels (cpu and wasm) ignore `halfPixelCenters` and return the legacy
 * mode's gradient, and the cpu one swaps height and width of its output for non-square images.
 *
 * Forward (tfjs cpu/wasm, per axis): src = scale·(o + ½) − ½ (half-pixel) or scale·o; lo =
 * max(0, ⌊src⌋), hi = min(in − 1, ⌈src⌉), f = src − lo; value = (1 − f)·x[lo] + f·x[hi]
 * (when lo = hi the two weights add up to 1 whatever f is). The gradient scatters dy with the same
 * weights.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Host } from './host.js';
import { runParts, splitRows } from './wasm/pool.js';
import { Scratch, simdFor } from './wasm/runtime.js';
import type { SimdExports } from './wasm/simd.js';

interface AxisTaps {
  lo: Int32Array;
  hi: Int32Array;
  f: Float64Array;
}

function axisTaps(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): AxisTaps {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const scale = effIn / effOut;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = halfPixelCenters ? scale * (o + 0.5) - 0.5 : scale * o;
    const l = Math.max(0, Math.floor(src));
    lo[o] = l;
    hi[o] = Math.min(inSize - 1, Math.ceil(src));
    f[o] = src - l;
  }
  return { lo, hi, f };
}

/** The gradient on the SIMD kernel (the same arithmetic, so the same bits), the batch split in two parts (wasm/pool.ts). */
function resizeBilinearGradSimd(h: Host, k: SimdExports, dy: TensorInfo, shape: [number, number, number, number], ty: AxisTaps, tx: AxisTaps): TensorInfo {
  const [N, H, W, C] = shape;
  const [, OH, OW] = dy.shape as [number, number, number, number];
  const out = h.alloc([...shape]);
  const ints = 2 * (OH + OW); // lo, hi per axis; an even count, so the f64 part after it is 8-byte aligned
  const s = new Scratch(h, 2 * ints);
  try {
    const iv = new Int32Array(s.f32(0, ints).buffer, s.addr(0), ints);
    iv.set(ty.lo, 0);
    iv.set(ty.hi, OH);
    iv.set(tx.lo, 2 * OH);
    iv.set(tx.hi, 2 * OH + OW);
    const fAt = ints;
    const fv = s.f64(fAt, OH + OW);
    fv.set(ty.f, 0);
    fv.set(tx.f, OH);
    const images = splitRows(N, Math.min(N, 2));
    runParts(h, k, images.map(([n0, n1]) => ({ fn: 'resizegrad', args: [h.ptr(out) + 4 * n0 * H * W * C, h.ptr(dy) + 4 * n0 * OH * OW * C, n1 - n0, H, W, C, OH, OW, s.addr(0), s.addr(fAt)] })));
  } finally {
    s.dispose();
  }
  return out;
}

/** ResizeBilinearGrad: inputs {images, dy}, attrs {alignCorners, halfPixelCenters}. Output has images' shape. */
export function resizeBilinearGrad(h: Host, images: TensorInfo, dy: TensorInfo, alignCorners: boolean, halfPixelCenters: boolean): TensorInfo {
  const [N, H, W, C] = images.shape as [number, number, number, number];
  const [, OH, OW] = dy.shape as [number, number, number, number];
  const ty = axisTaps(H, OH, alignCorners, halfPixelCenters);
  const tx = axisTaps(W, OW, alignCorners, halfPixelCenters);
  const k = simdFor(h);
  if (k) return resizeBilinearGradSimd(h, k, dy, [N, H, W, C], ty, tx);
  const out = h.alloc([N, H, W, C]);
  const dxv = h.f32(out);
  const dyv = h.f32(dy);
  let p = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const fy = ty.f[oy] as number;
      const rowLo = (n * H + (ty.lo[oy] as number)) * W;
      const rowHi = (n * H + (ty.hi[oy] as number)) * W;
      for (let ox = 0; ox < OW; ox++) {
        const fx = tx.f[ox] as number;
        const wTL = (1 - fy) * (1 - fx);
        const wTR = (1 - fy) * fx;
        const wBL = fy * (1 - fx);
        const wBR = fy * fx;
        const cLo = tx.lo[ox] as number;
        const cHi = tx.hi[ox] as number;
        const tl = (rowLo + cLo) * C;
        const tr = (rowLo + cHi) * C;
        const bl = (rowHi + cLo) * C;
        const br = (rowHi + cHi) * C;
        for (let c = 0; c < C; c++) {
          const d = dyv[p++] as number;
          dxv[tl + c] = dxv[tl + c]! + d * wTL;
          dxv[tr + c] = dxv[tr + c]! + d * wTR;
          dxv[bl + c] = dxv[bl + c]! + d * wBL;
          dxv[br + c] = dxv[br + c]! + d * wBR;
        }
      }
    }
  }
  return out;
}
