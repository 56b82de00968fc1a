/**
 * softmax_loss: softmax cross-entropy over the channels of `[N, H, W, C]` logits, averaged over
 * the valid (non-ignored) pixels of the batch:
 *
 *   loss = (1/V) Σ_valid w_{y_i} · (−log softmax(z_i)_{y_i})
 *
 * with w = 1 (default), a static list of C class weights, or pdseg's 'dynamic' per-batch weights
 * w_c = V/(count_c + 1), normalised so that Σ_c w_c = C, where V and count_c count the valid
 * pixels only (pdseg counted ignored pixels as class C−1 and divided by mean(mask) + 1e-5; seg
 * divides by V exactly). Like pdseg, the weighted sum is divided by V, not by Σ w_{y_i}
 * (PyTorch's `cross_entropy(weight=...)` convention). No valid pixel: loss 0, gradient 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, withPrecomputedGradient, zeroLoss, type PreparedLabels } from './common.js';
import { peek, scratch, tensorFrom } from './workspace.js';
import { usageError } from '../util/errors.js';

/** The class weights an options object and a batch give (length C). */
export function softmaxClassWeights(labels: PreparedLabels, weights: ResolvedLossOptions['classWeights']): Float64Array {
  const { C, validCount: V, classCounts } = labels;
  const w = new Float64Array(C);
  if (weights === null) {
    w.fill(1);
  } else if (weights === 'dynamic') {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += w[c] = V / ((classCounts[c] as number) + 1);
    for (let c = 0; c < C; c++) w[c] = ((w[c] as number) * C) / sum;
  } else {
    if (weights.length !== C) {
      throw usageError(`softmax_loss: ${weights.length} class weights for ${C} classes`, { hint: 'SOLVER.CROSS_ENTROPY_WEIGHT needs one weight per class (NUM_CLASSES)' });
    }
    weights.forEach((x, c) => (w[c] = x));
  }
  return w;
}

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function softmaxCore(logits: tf.Tensor4D, labels: PreparedLabels, options: ResolvedLossOptions): tf.Scalar {
  const { N, H, W, C, data, ignoreIndex, validCount: V } = labels;
  if (V === 0) return zeroLoss(logits);
  const w = softmaxClassWeights(labels, options.classWeights);
  const P = N * H * W;
  return withPrecomputedGradient(logits, (recording) => {
    // The softmax runs on the backend; the rest is one pass over logits and probabilities.
    const p = peek(tf.softmax(logits)) as Float32Array;
    const z = peek(logits) as Float32Array;
    const grad = recording ? scratch.f32('gradient', P * C) : undefined;
    const value = crossEntropy(z, p, data, ignoreIndex, C, w, V, grad);
    return { value, gradient: grad ? () => tensorFrom(grad, logits.shape) : undefined };
  });
}

/**
 * (1/V) Σ_valid w_y · (−log softmax(z)_y), in float64, with −log softmax(z)_y computed as
 * max(z) − z_y − log(max_c p_c): exact for any finite logits (max_c p_c ≥ 1/C, while p_y itself
 * may underflow to 0). NaN when any probability is NaN. Fills `grad` when given (softmaxGradient).
 */
function crossEntropy(z: Float32Array, p: Float32Array, data: Int32Array, ignoreIndex: number, C: number, w: Float64Array, V: number, grad: Float32Array | undefined): number {
  let loss = 0;
  let nan = false;
  for (let j = 0; j < data.length; j++) {
    const y = data[j] as number;
    if (y === ignoreIndex) continue;
    const row = j * C;
    let zMax = -Infinity;
    let pMax = 0;
    for (let c = row; c < row + C; c++) {
      const zc = z[c] as number;
      const pc = p[c] as number;
      if (zc > zMax) zMax = zc;
      if (pc > pMax) pMax = pc;
      if (pc !== pc) nan = true;
    }
    loss += (w[y] as number) * (zMax - (z[row + y] as number) - Math.log(pMax));
  }
  if (grad) softmaxGradient(p, data, ignoreIndex, C, w, V, grad);
  return nan ? NaN : loss / V;
}

/** grad = (p − onehot(y))·w_y/V, 0 at ignored pixels. */
function softmaxGradient(p: Float32Array, data: Int32Array, ignoreIndex: number, C: number, w: Float64Array, V: number, grad: Float32Array): void {
  for (let j = 0; j < data.length; j++) {
    const y = data[j] as number;
    const row = j * C;
    if (y === ignoreIndex) {
      grad.fill(0, row, row + C);
      continue;
    }
    const s = (w[y] as number) / V;
    for (let c = row; c < row + C; c++) grad[c] = (p[c] as number) * s;
    grad[row + y] = (grad[row + y] as number) - s;
  }
}

/**
 * Softmax cross-entropy of logits `[N, H, W, C]` (C ≥ 2) against labels `[N, H, W]`, the mean
 * over non-ignored pixels. Options: `ignoreIndex` (255), `classWeights` (null, C weights, or
 * 'dynamic').
 */
export const softmaxLoss: LossFn = (logits, labels, options) => {
  const opts = resolveLossOptions(options);
  const prepared = prepareLabels('softmax_loss', 'multi-channel', logits, labels, opts.ignoreIndex);
  return tf.tidy(() => softmaxCore(logits, prepared, opts));
};
