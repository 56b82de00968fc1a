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
 *
 * The sums are taken in float64 on the CPU, and so is the gradient
 * ∂loss/∂x_j = w_n·valid_j·σ'(x_j)·((2I + 1)/(S + 1)² − 2y_j/(S + 1)), I = Σ p·y, S = Σ p + Σ y.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, withPrecomputedGradient, zeroLoss, type PreparedLabels } from './common.js';
import { peek, scratch, tensorFrom } from './workspace.js';

/** Smoothing added to the numerator and denominator of the dice ratio. */
export const DICE_SMOOTH = 1;

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function diceCore(logits: tf.Tensor4D, labels: PreparedLabels, _options: ResolvedLossOptions): tf.Scalar {
  const { N, H, W, data, ignoreIndex, validPerImage } = labels;
  let images = 0;
  for (let n = 0; n < N; n++) if ((validPerImage[n] as number) > 0) images++;
  if (images === 0) return zeroLoss(logits);
  return withPrecomputedGradient(logits, (recording) => {
    const p = peek(tf.sigmoid(logits)) as Float32Array;
    const grad = recording ? scratch.f32('gradient', N * H * W) : undefined;
    const value = dice(p, data, ignoreIndex, N, H * W, validPerImage, 1 / images, grad);
    return { value, gradient: grad ? () => tensorFrom(grad, logits.shape) : undefined };
  });
}

/** The loss from σ(x); fills `grad` with d loss / d x when given. */
function dice(s: Float32Array, data: Int32Array, ignoreIndex: number, N: number, HW: number, validPerImage: Int32Array, imageWeight: number, grad: Float32Array | undefined): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const start = n * HW;
    const end = start + HW;
    if ((validPerImage[n] as number) === 0) {
      grad?.fill(0, start, end);
      continue;
    }
    let inter = 0;
    let sumP = 0;
    let sumY = 0;
    for (let j = start; j < end; j++) {
      const y = data[j] as number;
      if (y === ignoreIndex) continue;
      const p = s[j] as number;
      sumP += p;
      if (y === 1) {
        inter += p;
        sumY++;
      }
    }
    const S = sumP + sumY + DICE_SMOOTH;
    loss += imageWeight * (1 - (2 * inter + DICE_SMOOTH) / S);
    if (grad) {
      const a = (imageWeight * (2 * inter + DICE_SMOOTH)) / (S * S);
      const b = (imageWeight * 2) / S;
      for (let j = start; j < end; j++) {
        const y = data[j] as number;
        const p = s[j] as number;
        grad[j] = y === ignoreIndex ? 0 : p * (1 - p) * (y === 1 ? a - b : a);
      }
    }
  }
  return loss;
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
