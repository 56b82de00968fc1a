/**
 * bce_loss: sigmoid cross-entropy of one logit map against binary labels, averaged over the valid
 * (non-ignored) pixels of the batch (pdseg's `sigmoid_cross_entropy_with_logits(normalize=True)`):
 *
 *   loss = (1/V) Σ_valid softplus(−s_i·x_i),   s_i = 2y_i − 1,
 *
 * which is −y log σ(x) − (1−y) log(1−σ(x)) written without cancellation: finite for |x| up to
 * 1e4 and beyond, gradient (σ(x) − y)/V. No valid pixel: loss 0, gradient 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, zeroLoss, type PreparedLabels } from './common.js';

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function bceCore(logits: tf.Tensor4D, labels: PreparedLabels, _options: ResolvedLossOptions): tf.Scalar {
  const { data, ignoreIndex, validCount: V } = labels;
  if (V === 0) return zeroLoss(logits);
  const P = data.length;
  const sign = new Float32Array(P); // −s_i
  const weight = new Float32Array(P); // 1/V on valid pixels
  for (let j = 0; j < P; j++) {
    const y = data[j] as number;
    if (y === ignoreIndex) continue;
    sign[j] = y === 1 ? -1 : 1;
    weight[j] = 1 / V;
  }
  return tf.tidy(() => {
    const perPixel = tf.softplus(tf.mul(logits, tf.tensor(sign, logits.shape, 'float32')));
    return tf.sum(tf.mul(perPixel, tf.tensor(weight, logits.shape, 'float32'))) as tf.Scalar;
  });
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
