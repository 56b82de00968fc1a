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
import { peek } from './workspace.js';
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
    // Per pixel, from the labels tensor on the backend: the target (0 where ignored), its weight
    // w_y / V (0 where ignored) and the flat index of its logit.
    const y = tf.reshape(labels.tensor, [P]);
    const valid = tf.notEqual(y, ignoreIndex);
    const target = tf.where(valid, y, tf.zerosLike(y));
    const table = tf.tensor1d([...Array.from(w, (x) => x / V), 0], 'float32');
    const weight = tf.gather(table, tf.where(valid, y, tf.fill([P], C, 'int32')));
    const z = tf.reshape(logits, [P, C]);
    const zY = tf.gather(tf.reshape(z, [P * C]), tf.add(tf.mul(tf.range(0, P, 1, 'int32'), tf.scalar(C, 'int32')), target));
    // −log softmax(z)_y = max(z) − z_y − log(max_c softmax(z)_c): exact for any finite logits
    // (max_c softmax ≥ 1/C), and the softmax kernel is much faster than an elementwise exp.
    const zMax = tf.max(z, 1);
    const p = tf.softmax(z);
    const pMax = tf.max(p, 1);
    const sum = weightedSum(peek(zMax) as Float32Array, peek(zY) as Float32Array, peek(pMax) as Float32Array, data, ignoreIndex, w, V);
    return {
      value: sum,
      // d loss / d z = (softmax(z) − onehot(y)) · w_y / V. (oneHot is made as int32 and cast:
      // tfjs-backend-wasm 4.22's OneHot with dtype float32 writes integer bit patterns.)
      gradient: recording ? () => tf.reshape(tf.mul(tf.sub(p, tf.cast(tf.oneHot(target, C), 'float32')), tf.expandDims(weight, 1)), logits.shape) : undefined,
    };
  });
}

/** Σ_valid w_y/V · (zMax − zY − log pMax), in float64. */
function weightedSum(zMax: Float32Array, zY: Float32Array, pMax: Float32Array, data: Int32Array, ignoreIndex: number, w: Float64Array, V: number): number {
  let loss = 0;
  for (let j = 0; j < data.length; j++) {
    const y = data[j] as number;
    if (y === ignoreIndex) continue;
    loss += (w[y] as number) * ((zMax[j] as number) - (zY[j] as number) - Math.log(pMax[j] as number));
  }
  return loss / V;
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
