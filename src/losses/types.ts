import type * as tf from '@tensorflow/tfjs-core';
import type { PreparedLabels } from './common.js';

/**
 * Options every loss accepts. Options a loss does not use are ignored, so one options object can
 * be passed to all of them.
 */
export interface LossOptions {
  /** Label value that contributes nothing to the loss or its gradient (default 255). */
  ignoreIndex?: number;
  /**
   * Lovász losses: compute the loss per image, then average over the images that have at least
   * one non-ignored pixel (the authors' default). Default false: pool the whole batch (pdseg).
   */
  perImage?: boolean;
  /**
   * lovasz_softmax_loss: average over the classes present in the (non-ignored) labels of the
   * batch, or of each image in per-image mode (default 'present'), or over all C classes ('all').
   */
  classes?: 'present' | 'all';
  /**
   * softmax_loss: per-class weights. `null` (default): unweighted; a list of C weights: static
   * weights; `'dynamic'`: pdseg's per-batch weights `w_c = V/(count_c + 1)` normalised so that
   * Σ w = C, counted over the V non-ignored pixels only.
   */
  classWeights?: readonly number[] | 'dynamic' | null;
}

/** LossOptions with every default filled in. */
export interface ResolvedLossOptions {
  ignoreIndex: number;
  perImage: boolean;
  classes: 'present' | 'all';
  classWeights: readonly number[] | 'dynamic' | null;
}

/**
 * A loss: a pure function of float32 logits `[N, H, W, C]` (C = 1 for the one-channel losses) and
 * int32 labels `[N, H, W]` of class indices. Returns a scalar; never writes to its inputs; leaves
 * no tensors behind but the result.
 */
export type LossFn = (logits: tf.Tensor4D, labels: tf.Tensor3D, options?: LossOptions) => tf.Scalar;

/**
 * A loss on labels already checked and read by `prepareLabels` (common.ts), with every option
 * resolved: what buildLoss calls, so that a loss mix reads the labels once.
 */
export type LossCore = (logits: tf.Tensor4D, labels: PreparedLabels, options: ResolvedLossOptions) => tf.Scalar;

/** One registry entry: the public function and its core (the head it needs is in names.ts). */
export interface LossEntry {
  fn: LossFn;
  core: LossCore;
  /** One line for help texts and docs. */
  summary: string;
}
