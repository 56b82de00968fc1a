/**
 * dice_loss: soft dice on σ(logit) of one logit map, per image, averaged over the images that have
 * at least one valid (non-ignored) pixel:
 *
 *   loss_n = 1 − (2 Σ p·y + 1) / (Σ p + Σ y + 1),   p = σ(x)·valid, y = label·valid,
 *
 * with smoothing 1 in numerator and denominator. pdseg used 1 − 2Σpy/(Σp + Σy + 1e-5), which
 * gives an image without foreground a constant loss 1 and a zero gradient, and an image without
 * valid pixels a loss of 1; with the smoothing, an image without foreground still pushes σ(x)
 * down (gently: ∂loss/∂p = 1/(Σp + 1)²), and an image without valid pixels gives 0. With
 * foreground, the difference from pdseg is O(1/(Σp + Σy)). No valid pixel: loss 0, gradient 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, zeroLoss, type PreparedLabels } from './common.js';

/** Smoothing added to the numerator and denominator of the dice ratio. */
export const DICE_SMOOTH = 1;

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function diceCore(logits: tf.Tensor4D, labels: PreparedLabels, _options: ResolvedLossOptions): tf.Scalar {
  const { N, H, W, data, ignoreIndex, validPerImage } = labels;
  let images = 0;
  for (let n = 0; n < N; n++) if ((validPerImage[n] as number) > 0) images++;
  if (images === 0) return zeroLoss(logits);
  const HW = H * W;
  const valid = new Float32Array(N * HW);
  const fg = new Float32Array(N * HW);
  const sumY = new Float32Array(N);
  const imageWeight = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let j = n * HW; j < (n + 1) * HW; j++) {
      const y = data[j] as number;
      if (y === ignoreIndex) continue;
      valid[j] = 1;
      if (y === 1) {
        fg[j] = 1;
        s++;
      }
    }
    sumY[n] = s;
    imageWeight[n] = (validPerImage[n] as number) > 0 ? 1 / images : 0;
  }
  return tf.tidy(() => {
    const p = tf.mul(tf.sigmoid(tf.reshape(logits, [N, HW])), tf.tensor(valid, [N, HW], 'float32'));
    const inter = tf.sum(tf.mul(p, tf.tensor(fg, [N, HW], 'float32')), 1);
    const denom = tf.add(tf.sum(p, 1), tf.add(tf.tensor(sumY, [N], 'float32'), DICE_SMOOTH));
    const perImage = tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), DICE_SMOOTH), denom));
    return tf.sum(tf.mul(perImage, tf.tensor(imageWeight, [N], 'float32'))) as tf.Scalar;
  });
}

/**
 * Soft dice loss of one-channel logits `[N, H, W, 1]` (raw scores; the sigmoid is applied here)
 * against labels `[N, H, W]` in {0, 1, ignoreIndex}, per image, averaged over the batch's images
 * that have at least one non-ignored pixel.
 */
export const diceLoss: LossFn = (logits, labels, options) => {
  const opts = resolveLossOptions(options);
  const prepared = prepareLabels('dice_loss', 'one-channel', logits, labels, opts.ignoreIndex);
  return tf.tidy(() => diceCore(logits, prepared, opts));
};
