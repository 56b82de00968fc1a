/**
 * Convolutions with TensorFlow 'same' padding, including atrous (dilated) ones, from tf.*
 * primitives that have gradients on every backend.
 *
 * tfjs-core refuses gradients of dilated Conv2D/DepthwiseConv2dNative, and tfjs-layers silently
 * drops the dilation of depthwise convolutions. An atrous convolution is therefore computed as
 * TensorFlow's `with_space_to_batch` does: pad H and W up to a multiple of the rate r, move the r×r
 * phases into the batch (space-to-batch), run the undilated convolution with 'same' padding, move
 * them back (batch-to-space) and crop. This is exact: output row i of phase (i mod r) sees the rows
 * i − r, i, i + r, and zero beyond the image, as the dilated 'same' convolution does.
 *
 * Space-to-batch is written with rank-4 and rank-3 reshapes/transposes only: wasm's SpaceToBatchND,
 * BatchToSpaceND and rank-6 transposes are 20–40× slower (shared/reference/backends.md §2.2).
 *
 * When r is at least H and W, every tap but the centre one falls outside the image, so the
 * convolution is the 1×1 convolution with the centre tap (DeepLab's ASPP at rates 12/18/24/36 on
 * small inputs): cheaper and exact.
 */
import * as tf from '@tensorflow/tfjs-core';

/** [N, h·r, w·r, C] → [r·r·N, h, w, C]; batch index (j·r + i)·N + n holds x[n, a·r + i, b·r + j, :]. */
export function spaceToBatch(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [n, hh, ww, c] = x.shape;
  if (hh % r !== 0 || ww % r !== 0) throw new Error(`spaceToBatch: ${hh}x${ww} is not a multiple of ${r}`);
  const h = hh / r;
  const w = ww / r;
  return tf.tidy(() => {
    // rows a·r + i → (n·h + a, i); columns and channels b·r·C + j·C + ch → (b, j·C + ch)
    const t1 = tf.transpose(tf.reshape(x, [n * h, r, w, r * c]), [1, 0, 2, 3]); // [i, n·h, w, r·C]
    const t2 = tf.transpose(tf.reshape(t1, [r * n * h * w, r, c]), [1, 0, 2]); // [j, (i, n, a, b), C]
    return tf.reshape(t2, [r * r * n, h, w, c]);
  });
}

/** The inverse of spaceToBatch: [r·r·N, h, w, C] → [N, h·r, w·r, C]. */
export function batchToSpace(y: tf.Tensor4D, r: number): tf.Tensor4D {
  const [b, h, w, c] = y.shape;
  if (b % (r * r) !== 0) throw new Error(`batchToSpace: batch ${b} is not a multiple of ${r * r}`);
  const n = b / (r * r);
  return tf.tidy(() => {
    const t1 = tf.transpose(tf.reshape(y, [r, r * n * h * w, c]), [1, 0, 2]); // [(i, n, a, b), j, C]
    const t2 = tf.transpose(tf.reshape(t1, [r, n * h, w, r * c]), [1, 0, 2, 3]); // [n·h, i, w, r·C]
    return tf.reshape(t2, [n, h * r, w * r, c]);
  });
}

type Conv = (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * Apply `conv` (an undilated, stride-1, 'same' convolution with an odd k×k kernel) as a dilated
 * one with rate r, or `centre` (its 1×1 centre tap) when r ≥ H and r ≥ W.
 */
function atrous(x: tf.Tensor4D, r: number, conv: Conv, centre: Conv): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (r >= h && r >= w) return centre(x);
  return tf.tidy(() => {
    const hp = Math.ceil(h / r) * r;
    const wp = Math.ceil(w / r) * r;
    const padded = hp === h && wp === w ? x : tf.pad(x, [[0, 0], [0, hp - h], [0, wp - w], [0, 0]]);
    const y = batchToSpace(conv(spaceToBatch(padded, r)), r);
    return hp === h && wp === w ? y : tf.slice(y, [0, 0, 0, 0], [-1, h, w, -1]);
  });
}

function checkGeometry(op: string, kernel: tf.Tensor4D, stride: number, dilation: number): void {
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`${op}: stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(dilation) || dilation < 1) throw new Error(`${op}: dilation must be a positive integer, got ${dilation}`);
  if (dilation > 1 && stride > 1) throw new Error(`${op}: stride ${stride} with dilation ${dilation} is not supported (one of them must be 1)`);
  const [kh, kw] = kernel.shape;
  if (dilation > 1 && (kh % 2 === 0 || kw % 2 === 0)) throw new Error(`${op}: dilated kernels must have odd sizes, got ${kh}x${kw}`);
}

function centreTap(kernel: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, ci, co] = kernel.shape;
  return tf.slice(kernel, [(kh - 1) / 2, (kw - 1) / 2, 0, 0], [1, 1, ci, co]);
}

/** Convolution with 'same' padding; `kernel` is [kh, kw, cin, cout]. */
export function conv2dSame(x: tf.Tensor4D, kernel: tf.Tensor4D, stride = 1, dilation = 1): tf.Tensor4D {
  checkGeometry('conv2d', kernel, stride, dilation);
  if (dilation === 1) return tf.conv2d(x, kernel, stride, 'same');
  return atrous(
    x,
    dilation,
    (t) => tf.conv2d(t, kernel, 1, 'same'),
    (t) => tf.tidy(() => tf.conv2d(t, centreTap(kernel), 1, 'same')),
  );
}

/** Depthwise convolution with 'same' padding; `kernel` is [kh, kw, C, 1]. */
export function depthwiseSame(x: tf.Tensor4D, kernel: tf.Tensor4D, stride = 1, dilation = 1): tf.Tensor4D {
  checkGeometry('depthwiseConv2d', kernel, stride, dilation);
  if (kernel.shape[3] !== 1) throw new Error(`depthwiseConv2d: channel multiplier must be 1, got ${kernel.shape[3]}`);
  if (dilation === 1) return tf.depthwiseConv2d(x, kernel, stride, 'same');
  return atrous(
    x,
    dilation,
    (t) => tf.depthwiseConv2d(t, kernel, 1, 'same'),
    (t) => tf.tidy(() => tf.mul(t, tf.reshape(centreTap(kernel), [kernel.shape[2]]))),
  );
}
