/**
 * Bilinear resize with half-pixel centres (TensorFlow 2's default, PyTorch's align_corners=False)
 * and a correct gradient on every backend.
 *
 * tfjs 4.22's ResizeBilinearGrad on cpu and wasm ignores halfPixelCenters (it returns the legacy
 * mode's gradient, off by 150–210 % in an adjoint test) and on cpu swaps H and W for non-square
 * images (shared/reference/native-prototype.md §4). The forward kernel is right, so the op keeps
 * it and supplies its own gradient through tf.customGrad.
 *
 * Bilinear resizing is separable: per image and channel, R x = A_h · x · A_wᵀ, where A_h
 * [outH, inH] and A_w [outW, inW] hold the interpolation weights of one axis
 * (src = (o + ½)·in/out − ½; lo = max(0, ⌊src⌋), hi = min(in − 1, ⌈src⌉); weights 1 − f and f
 * with f = src − lo, which collapse to one weight 1 when lo = hi). The gradient is then
 * Rᵀ dy = A_hᵀ · dy · A_w, computed with two plain 2-D matMuls and rank-4 transposes.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The [outSize, inSize] interpolation matrix of one axis (row-major). */
export function interpolationMatrix(inSize: number, outSize: number): Float32Array {
  const a = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = scale * (o + 0.5) - 0.5;
    const lo = Math.max(0, Math.floor(src));
    const hi = Math.min(inSize - 1, Math.ceil(src));
    const f = src - lo;
    if (lo === hi) {
      a[o * inSize + lo] = 1;
    } else {
      a[o * inSize + lo] = 1 - f;
      a[o * inSize + hi] = f;
    }
  }
  return a;
}

const matrixCache = new Map<string, Float32Array>();

function matrix(inSize: number, outSize: number, transpose: boolean): tf.Tensor2D {
  const key = `${inSize}:${outSize}:${transpose ? 't' : 'n'}`;
  let m = matrixCache.get(key);
  if (!m) {
    const a = interpolationMatrix(inSize, outSize);
    if (!transpose) {
      m = a;
    } else {
      m = new Float32Array(a.length);
      for (let o = 0; o < outSize; o++) for (let i = 0; i < inSize; i++) m[i * outSize + o] = a[o * inSize + i] as number;
    }
    if (matrixCache.size > 256) matrixCache.clear();
    matrixCache.set(key, m);
  }
  return transpose ? tf.tensor2d(m, [inSize, outSize]) : tf.tensor2d(m, [outSize, inSize]);
}

/**
 * y[n, :, :, c] = Mh · x[n, :, :, c] · Mwᵀ for [N, H, W, C] x, Mh [H', H], Mw [W', W]: two 2-D
 * matMuls on the transposed tensor (no batched or transposed matMul operands, which are slow on wasm).
 */
function applySeparable(x: tf.Tensor4D, mh: tf.Tensor2D, mw: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const hOut = mh.shape[0];
    const wOut = mw.shape[0];
    // H axis: [H, N·W·C] ← [N, H, W, C]
    const xh = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
    const yh = tf.reshape(tf.matMul(mh, xh), [hOut, n, w, c]); // [H', N, W, C]
    // W axis: [W, H'·N·C] ← [H', N, W, C]
    const xw = tf.reshape(tf.transpose(yh, [2, 0, 1, 3]), [w, hOut * n * c]);
    const yw = tf.reshape(tf.matMul(mw, xw), [wOut, hOut, n, c]); // [W', H', N, C]
    return tf.transpose(yw, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}

/** Rᵀ dy for a resize from [inH, inW] to dy's [outH, outW]. */
export function resizeBilinearTranspose(dy: tf.Tensor4D, inSize: readonly [number, number]): tf.Tensor4D {
  const [, outH, outW] = dy.shape;
  const [inH, inW] = inSize;
  return tf.tidy(() => applySeparable(dy, matrix(inH, outH, true), matrix(inW, outW, true)));
}

/** R x computed with the interpolation matrices (the reference the kernel is tested against). */
export function resizeBilinearByMatrix(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [, inH, inW] = x.shape;
  return tf.tidy(() => applySeparable(x, matrix(inH, size[0], false), matrix(inW, size[1], false)));
}

/** Half-pixel bilinear resize of NHWC `x` to [h, w], with the exact adjoint as gradient. */
export function resizeBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [, inH, inW] = x.shape;
  const [h, w] = size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new Error(`resizeBilinear: bad size ${h}x${w}`);
  if (inH === h && inW === w) return x.clone();
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    return {
      value: tf.image.resizeBilinear(xi, [h, w], false, true),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => resizeBilinearTranspose(dy as tf.Tensor4D, [inH, inW]),
    };
  });
  return f(x) as tf.Tensor4D;
}
