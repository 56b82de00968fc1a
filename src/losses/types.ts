import type * as tf from '@tensorflow/tfjs-core';

/**
 * Options every loss accepts. Unknown options are ignored by losses that do not use them, so one
 * options object can be passed to all of them.
 */
export interface LossOptions {
  /** Label value that contributes nothing (default 255). */
  ignoreIndex?: number;
  /** Lovász losses: compute per image, then average over the batch (default false: pool the batch). */
  perImage?: boolean;
  /** lovasz_softmax_loss: average over classes present in the labels, or all classes (default 'present'). */
  classes?: 'present' | 'all';
  /** softmax_loss: static per-class weights, 'dynamic' (per batch), or null (default). */
  classWeights?: readonly number[] | 'dynamic' | null;
}

/**
 * A loss: a pure function of float32 logits `[N, H, W, C]` (C = 1 for the one-channel losses) and
 * int32 labels `[N, H, W]` of class indices. Returns a scalar; never writes to its inputs.
 */
export type LossFn = (logits: tf.Tensor4D, labels: tf.Tensor3D, options?: LossOptions) => tf.Scalar;

/** One registry entry: the function and the head it needs. */
export interface LossEntry {
  fn: LossFn;
  /** 'one-channel' losses work on one logit map (binary tasks); 'multi-channel' ones on NUM_CLASSES maps. */
  head: 'one-channel' | 'multi-channel';
  /** One line for help texts and docs. */
  summary: string;
}
