/**
 * bce_loss: sigmoid cross-entropy of one logit map against binary labels, averaged over the valid
 * (non-ignored) pixels of the batch (pdseg's `sigmoid_cross_entropy_with_logits(normalize=True)`):
 *
 *   loss = (1/V) Σ_valid softplus(−s_i·x_i),   s_i = 2y_i − 1,
 *
 * which is −y log σ(x) − (1−y) log(1−σ(x)) written without cancellation: finite for |x| up to
 * 1e4 and beyond, gradient (σ(x) − y)/V. The sum is taken in float64. No valid pixel: loss 0,
 * gradient 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, withPrecomputedGradient, zeroLoss, type PreparedLabels } from './common.js';
import { peek } from './workspace.js';

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function bceCore(logits: tf.Tensor4D, labels: PreparedLabels, _options: ResolvedLossOptions): tf.Scalar {
  const { data, ignoreIndex, validCount: V } = labels;
  if (V === 0) return zeroLoss(logits);
  return withPrecomputedGradient(logits, (recording) => {
    const y = tf.reshape(labels.tensor, logits.shape);
    const fg = tf.cast(tf.equal(y, 1), 'float32');
    const perPixel = tf.softplus(tf.mul(logits, tf.sub(1, tf.mul(fg, 2)))); // softplus(−s·x)
    const value = validMean(peek(perPixel) as Float32Array, data, ignoreIndex, V);
    return {
      value,
      gradient: recording
        ? () => tf.mul(tf.sub(tf.sigmoid(logits), fg), tf.div(tf.cast(tf.notEqual(y, ignoreIndex), 'float32'), V))
        : undefined,
    };
  });
}

/** (1/V) Σ_valid values, in float64. */
function validMean(values: Float32Array, data: Int32Array, ignoreIndex: number, V: number): number {
  let sum = 0;
  for (let j = 0; j < data.length; j++) if (data[j] !== ignoreIndex) sum += values[j] as number;
  return sum / V;
}

/**
 * Binary cross-entropy of one-channel logits `[N, H, W, 1]` (raw scores; the sigmoid is applied
 * here) against labels `[N, H, W]` in {0, 1, ignoreIndex}: the mean over non-ignored pixels.
 */
export const bceLoss: LossFn = (logits, labels, options) => {
  const opts = resolveLossOptions(options);
  const prepared = prepareLabels('bce_loss', 'one-channel', logits, labels, opts.ignoreIndex);
  return tf.tidy(() => bceCore(logits, prepared, opts));
};
