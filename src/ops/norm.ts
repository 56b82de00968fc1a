/**
 * Normalisation ops: batch norm (training and inference) and group norm.
 *
 * Training-mode batch norm normalises with the batch statistics over N, H and W and has a
 * hand-written gradient (tfjs's FusedBatchNorm gradient tiles per-channel vectors to the full
 * tensor size, which is slow). With x̂ = (x − μ)·s, s = 1/√(σ² + ε), M = N·H·W and per-channel
 *   a = γ·s,  b = −a·Σ(dy·x̂)/M,  c = −a·Σdy/M:
 *   dx = a·dy + b·x̂ + c,   dγ = Σ(dy·x̂),   dβ = Σdy.
 * It also updates the moving statistics the way pdseg (Paddle) does:
 *   moving = momentum·moving + (1 − momentum)·batch, with the biased batch variance.
 * Inference uses the moving statistics: y = x·γ/√(var + ε) + (β − mean·γ/√(var + ε)).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchNormParams, GroupNormParams, NormOptions, NormParams } from './types.js';

export interface BatchStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Batch norm with batch statistics and the hand-written gradient; returns y and the (kept) batch statistics. */
function batchNormTrainCore(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): { y: tf.Tensor4D; stats: BatchStats } {
  let stats: BatchStats | undefined;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const { mean, variance } = tf.moments(xi, [0, 1, 2]);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xHat = tf.mul(tf.sub(xi, mean), invStd);
    save([xHat, invStd, g]);
    // The forward runs inside a kernel scope (untaped, tidied): keep the statistics for the
    // moving-average update; batchNormTrain disposes them.
    stats = { mean: tf.keep(mean as tf.Tensor1D), variance: tf.keep(variance as tf.Tensor1D) };
    return {
      value: tf.add(tf.mul(xHat, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xh, s, gg] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
        const d = dy as tf.Tensor4D;
        const m = xh.size / (xh.shape[3] as number);
        const sumDy = tf.sum(d, [0, 1, 2]);
        const sumDyXHat = tf.sum(tf.mul(d, xh), [0, 1, 2]);
        const a = tf.mul(gg, s);
        const bb = tf.mul(a, tf.div(sumDyXHat, -m));
        const c = tf.mul(a, tf.div(sumDy, -m));
        const dx = tf.add(tf.add(tf.mul(d, a), tf.mul(xh, bb)), c);
        return [dx, sumDyXHat, sumDy];
      },
    };
  });
  const y = f(x, gamma, beta) as tf.Tensor4D;
  if (!stats) throw new Error('batchNorm: statistics were not computed');
  return { y, stats };
}

/** moving = momentum·moving + (1 − momentum)·batch, for mean and variance; disposes `batch`. */
export function updateMovingStats(p: BatchNormParams, batch: BatchStats, momentum: number): void {
  try {
    tf.tidy(() => {
      p.movingMean.assign(tf.add(tf.mul(p.movingMean, momentum), tf.mul(batch.mean, 1 - momentum)));
      p.movingVariance.assign(tf.add(tf.mul(p.movingVariance, momentum), tf.mul(batch.variance, 1 - momentum)));
    });
  } finally {
    batch.mean.dispose();
    batch.variance.dispose();
  }
}

/** Training-mode batch norm: normalise with batch statistics, update the moving statistics. */
export function batchNormTrain(x: tf.Tensor4D, p: BatchNormParams, o: NormOptions): tf.Tensor4D {
  const { y, stats } = batchNormTrainCore(x, p.gamma, p.beta, o.epsilon);
  updateMovingStats(p, stats, o.momentum);
  return y;
}

/** Inference-mode batch norm with the moving statistics (differentiable in γ, β and x). */
export function batchNormInfer(x: tf.Tensor4D, p: BatchNormParams, epsilon: number): tf.Tensor4D {
  return tf.tidy(() => {
    const scale = tf.mul(p.gamma, tf.rsqrt(tf.add(p.movingVariance, epsilon)));
    const shift = tf.sub(p.beta, tf.mul(p.movingMean, scale));
    return tf.add(tf.mul(x, scale), shift);
  });
}

/** Group norm over `groups` channel groups (statistics over H, W and the group's channels, per image). */
export function groupNorm(x: tf.Tensor4D, p: GroupNormParams, epsilon: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = p.groups;
  if (c % g !== 0) throw new Error(`groupNorm: ${c} channels are not divisible into ${g} groups`);
  return tf.tidy(() => {
    const xr = tf.reshape(x, [n, h * w, g, c / g]);
    const { mean, variance } = tf.moments(xr, [1, 3], true);
    const xn = tf.reshape(tf.mul(tf.sub(xr, mean), tf.rsqrt(tf.add(variance, epsilon))), [n, h, w, c]);
    return tf.add(tf.mul(xn, p.gamma), p.beta);
  });
}

/** The norm `p` describes, in training or inference mode. */
export function normalize(x: tf.Tensor4D, p: NormParams, o: NormOptions): tf.Tensor4D {
  if (p.kind === 'gn') return groupNorm(x, p, o.epsilon);
  return o.training ? batchNormTrain(x, p, o) : batchNormInfer(x, p, o.epsilon);
}

/**
 * The group count used for `channels` channels when DEFAULT_GROUP_NUMBER is `wanted`: `wanted`
 * when it divides the channels, else the nearest divisor (pdseg's group_norm searches ±d the same
 * way and prefers the larger count on a tie; it gives up after ±9, seg does not).
 */
export function groupsFor(channels: number, wanted: number): number {
  if (wanted >= channels) return channels;
  for (let d = 0; d < channels; d++) {
    for (const g of [wanted + d, wanted - d]) {
      if (g >= 1 && g <= channels && channels % g === 0) return g;
    }
  }
  return 1;
}
