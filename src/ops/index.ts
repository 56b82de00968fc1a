/**
 * The op layer. The model calls `currentOps()` on every forward pass; a backend that has fused
 * kernels for some of the composite ops installs them with `setOps({...})` (each replacement must
 * agree with the reference implementation, which stays available as `referenceOps`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { referenceOps } from './reference.js';
import type { OpSet } from './types.js';

let active: OpSet<tf.Tensor4D> = referenceOps;

/** The OpSet the model uses now. */
export function currentOps(): OpSet<tf.Tensor4D> {
  return active;
}

/**
 * Replace some ops (the others stay as they are). Returns a function that restores the previous
 * set. Pass `referenceOps` to go back to the reference implementation entirely.
 */
export function setOps(overrides: Partial<OpSet<tf.Tensor4D>>): () => void {
  const previous = active;
  active = Object.freeze({ ...active, ...overrides });
  return () => {
    active = previous;
  };
}

/** `f` in the active op set's inferenceScope, where it has one (OpSet.inferenceScope). */
export function inferenceScope<R>(f: () => Promise<R>): Promise<R> {
  const ops = active;
  return ops.inferenceScope ? ops.inferenceScope(f) : f();
}

export { referenceOps } from './reference.js';
export { spaceToBatch, batchToSpace, conv2dSame, depthwiseSame } from './conv.js';
export { batchNormTrain, batchNormInfer, groupNorm, groupsFor, normalize } from './norm.js';
export { resizeBilinear, resizeBilinearTranspose, resizeBilinearByMatrix, interpolationMatrix } from './resize.js';
export type * from './types.js';
