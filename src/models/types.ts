/**
 * The model contract the trainer, evaluator, checkpoints and export rely on.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { OpSet } from '../ops/types.js';

/** A model weight: its stable hierarchical name (e.g. `backbone/block_3/expand/bn/gamma`) and variable. */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
  /** False for batch-norm moving statistics (updated by the forward pass, not by the optimiser). */
  trainable: boolean;
}

/** Per-call context of a forward pass. */
export interface ApplyContext {
  /** Batch-statistics batch norm (and moving-statistics update) and dropout. */
  training: boolean;
  /** Seed of this call's dropout masks. */
  seed: number;
  /** Moving-statistics updates made before this training call (warms up the BN momentum); absent: none counted. */
  updates?: number;
}

/** Options of one forward pass: an ApplyContext whose dropout seed the model may choose. */
export type ApplyOptions = Omit<ApplyContext, 'seed'> & { seed?: number };

/** A segmentation network. */
export interface SegModel {
  /** Channels of the logits: 1 for one-channel (binary) losses, else NUM_CLASSES. */
  readonly headChannels: number;
  readonly outputStride: number;
  /**
   * Logits [N, H, W, headChannels] at the input size, from normalised float32 images
   * [N, H, W, DATA_DIM]. Training mode: batch-statistics batch norm (which updates the moving
   * statistics) and dropout seeded by `seed`. Call it inside tf.variableGrads/tf.tidy as usual; the
   * result is the caller's to dispose.
   */
  apply(images: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D;
  /** All weights, in a stable order with stable hierarchical names. */
  readonly weights: readonly NamedVariable[];
  /** The variables the optimiser updates. */
  trainableVariables(): tf.Variable[];
  /** Free every variable. */
  dispose(): void;
}

/**
 * One layer of the network: a function of an OpSet (reference tfjs ops, a faster set, or the
 * export tracer), its input and the call context.
 */
export type Layer = <T>(ops: OpSet<T>, x: T, ctx: ApplyContext) => T;
