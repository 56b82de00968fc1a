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
import { prepareLabels, resolveLossOptions, zeroLoss, type PreparedLabels } from './common.js';
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
  // The target: a one-hot row per valid pixel, carrying w_y / V (all zeros for ignored pixels).
  const P = N * H * W;
  const target = new Float32Array(P * C);
  for (let j = 0; j < P; j++) {
    const y = data[j] as number;
    if (y !== ignoreIndex) target[j * C + y] = (w[y] as number) / V;
  }
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.tensor(target, logits.shape, 'float32')))) as tf.Scalar);
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
