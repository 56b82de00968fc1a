/**
 * lovasz_hinge_loss: the Lovász extension of the foreground IoU loss applied to hinge errors of
 * one raw logit map (Berman, Rannen Triki & Blaschko, CVPR 2018, Alg. 1; reference code
 * github.com/bermanmaxim/LovaszSoftmax, MIT).
 *
 * For the valid (non-ignored) pixels of a set (the whole batch, or one image in per-image mode)
 * with logits x, labels y ∈ {0, 1} and signs s = 2y − 1:
 *
 *   err_i = 1 − s_i·x_i,   π = the order of decreasing err (ties: pixel order),
 *   loss = Σ_k relu(err_π(k)) · g_k,   g = Alg. 1's Lovász gradient of y_π,
 *
 * with g and π constants of the step. Per-image mode averages over the images that have at least
 * one valid pixel; a set without valid pixels gives 0 (and gradient 0).
 *
 * Implementation: the logits are read on the CPU (no copy on wasm and cpu), pixels whose error is
 * ≤ 0 (they add nothing and have zero gradient) are dropped, the rest are radix-sorted
 * (lovasz_sort.ts), and one pass computes the loss and d loss / d x = −s·g·[err > 0], which is
 * uploaded once as the gradient (tf.customGrad), when a gradient is being recorded.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, withPrecomputedGradient, type PreparedLabels } from './common.js';
import { ascendingKey, SortBuffers } from './lovasz_sort.js';
import { peek, scratch, tensorFrom } from './workspace.js';

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function lovaszHingeCore(logits: tf.Tensor4D, labels: PreparedLabels, options: ResolvedLossOptions): tf.Scalar {
  return withPrecomputedGradient(logits, () => {
    const { N, H, W, data, validPerImage, validCount } = labels;
    const x = peek(logits) as Float32Array; // read-only; no tensor is allocated while it is used
    const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const grad = scratch.f32('gradient', x.length);
    grad.fill(0);
    const ignore = labels.ignoreIndex;
    let loss = 0;
    if (options.perImage) {
      let images = 0;
      for (let n = 0; n < N; n++) if ((validPerImage[n] as number) > 0) images++;
      const buffers = new SortBuffers(H * W);
      for (let n = 0; n < N; n++) {
        if ((validPerImage[n] as number) === 0) continue;
        loss += hingeFlat(x, bits, data, n * H * W, (n + 1) * H * W, ignore, 1 / images, grad, buffers);
      }
      if (images > 0) loss /= images;
    } else if (validCount > 0) {
      loss = hingeFlat(x, bits, data, 0, N * H * W, ignore, 1, grad, new SortBuffers(N * H * W));
    }
    if (Number.isNaN(loss)) grad.fill(NaN); // NaN logits: say so in the gradient too
    return { value: loss, gradient: () => tensorFrom(grad, logits.shape) };
  });
}

/**
 * Lovász hinge of the pixels [start, end) of one flat set. Writes `scale · d loss / d x` into
 * `grad` at those pixels and returns the (unscaled) loss.
 */
function hingeFlat(
  x: Float32Array,
  xBits: Uint32Array,
  labels: Int32Array,
  start: number,
  end: number,
  ignore: number,
  scale: number,
  grad: Float32Array,
  buffers: SortBuffers,
): number {
  const keys = buffers.keys;
  const index = buffers.index;
  let G = 0; // foreground pixels
  let valid = 0;
  let n = 0; // candidates: valid pixels with err > 0, i.e. margin s·x < 1
  let min = 0xffffffff;
  let max = 0;
  let sawNaN = false;
  for (let j = start; j < end; j++) {
    const y = labels[j] as number;
    if (y === ignore) continue;
    valid++;
    G += y;
    const xj = x[j] as number;
    const margin = y === 1 ? xj : -xj;
    if (margin < 1) {
      // Sort by margin ascending = error descending; the margin's bits are x's with the sign
      // flipped for y = 0. The index carries the label in its top bit.
      let b = y === 1 ? (xBits[j] as number) : ((xBits[j] as number) ^ 0x80000000) >>> 0;
      if ((b & 0x7fffffff) === 0) b = 0; // −0 sorts as +0
      const key = ascendingKey(b);
      keys[n] = key;
      index[n++] = y === 1 ? (j | 0x80000000) >>> 0 : j;
      if (key < min) min = key;
      if (key > max) max = key;
    } else if (margin !== margin) {
      sawNaN = true;
    }
  }
  if (sawNaN) return NaN;
  if (valid === 0 || n === 0) return 0;
  if (G === 0) {
    // No foreground: g = (1, 0, 0, ...), only the largest error counts (first pixel among ties).
    let best = 0;
    for (let k = 1; k < n; k++) if ((keys[k] as number) < (keys[best] as number)) best = k;
    const j = index[best] as number;
    grad[j] = scale; // err = 1 + x for y = 0
    return 1 + (x[j] as number);
  }
  if (G === valid) {
    // Only foreground: g_k = 1/G at every position, whatever the order.
    let loss = 0;
    for (let k = 0; k < n; k++) {
      const j = (index[k] as number) & 0x7fffffff;
      loss += 1 - (x[j] as number);
      grad[j] = -scale / G;
    }
    return loss / G;
  }
  const order = buffers.sort(n, min, max);
  // The sorted keys give the margins back, so the walk reads memory in order and only writes the
  // gradient at random.
  const sortedKeys = buffers.keys;
  const gk = buffers.lovaszGradient(order, n, G);
  let loss = 0;
  for (let k = 0; k < n; k++) {
    const tagged = order[k] as number;
    const j = tagged & 0x7fffffff;
    const key = sortedKeys[k] as number;
    f32u[0] = (key & 0x80000000) !== 0 ? key & 0x7fffffff : ~key >>> 0; // inverse of ascendingKey
    const err = 1 - (f32[0] as number); // 1 − margin
    const g = gk[k] as number;
    loss += err * g;
    grad[j] = tagged !== j ? -g * scale : g * scale;
  }
  return loss;
}

const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);

/**
 * Lovász hinge loss of one-channel logits `[N, H, W, 1]` (raw scores, no sigmoid) against binary
 * labels `[N, H, W]` (0, 1 or `ignoreIndex`). Options: `ignoreIndex` (255), `perImage` (false:
 * pool the batch as pdseg). Returns a scalar; gradients are exactly Alg. 1's.
 */
export const lovaszHingeLoss: LossFn = (logits, labels, options) => {
  const opts = resolveLossOptions(options);
  const prepared = prepareLabels('lovasz_hinge_loss', 'one-channel', logits, labels, opts.ignoreIndex);
  return tf.tidy(() => lovaszHingeCore(logits, prepared, opts));
};
