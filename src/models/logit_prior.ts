/**
 * The logit bias set to the class prior of the training labels.
 *
 * At a zero bias the head predicts 0.5 (one channel) or 1/K (softmax) everywhere. On imbalanced
 * data (roads cover ~4 % of a tile) every pixel's error then has the same sign, and because the
 * head's inputs are post-ReLU (≥ 0), every head weight's gradient has the same sign too: Adam
 * moves all of them down in lockstep by about the learning rate per step. A head initialised with
 * pdseg's truncated N(0, 0.01) (|w| ≤ 0.02) has no weight left above zero after a few dozen steps,
 * and the model predicts no foreground for epochs although its features separate the classes.
 * Starting from the prior (logistic: the log-odds of class 1; softmax: the log-frequencies) makes
 * the initial errors average to zero per feature, as in Lin et al. 2017 (focal loss, "prior init").
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegModel } from './types.js';

/** Laplace-smoothed frequencies, so a class absent from the sample gets a finite bias. */
function frequencies(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0) + counts.length;
  return counts.map((c) => (c + 1) / total);
}

/** The bias of a head with `headChannels` outputs (1: logistic on class 1 vs 0) from class pixel counts. */
export function priorLogitBias(counts: readonly number[], headChannels: number): number[] {
  const p = frequencies(counts);
  if (headChannels === 1) {
    if (p.length !== 2) throw new Error(`a one-channel head needs 2 classes, got ${p.length}`);
    return [Math.log((p[1] as number) / (p[0] as number))];
  }
  if (p.length !== headChannels) throw new Error(`${p.length} class counts for a ${headChannels}-channel head`);
  return p.map(Math.log);
}

/** Name of the head's bias among SegModel.weights. */
export const LOGIT_BIAS = 'logit/bias';

/** Assign `bias` to the model's logit bias. */
export function setLogitBias(model: SegModel, bias: readonly number[]): void {
  const w = model.weights.find((v) => v.name === LOGIT_BIAS);
  if (!w) throw new Error(`the model has no ${LOGIT_BIAS}`);
  if (w.variable.size !== bias.length) throw new Error(`${LOGIT_BIAS} has ${w.variable.size} values, got ${bias.length}`);
  tf.tidy(() => w.variable.assign(tf.tensor1d([...bias], 'float32')));
}
