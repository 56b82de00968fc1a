/**
 * The op layer's vocabulary: parameter bundles and options of the composite ops the network is
 * built from. The model never calls tf.* directly; it calls an `OpSet` (index.ts), so that a
 * faster implementation (fused native or wasm kernels) can replace the reference one
 * (reference.ts) without touching the model, and so that `seg export` can trace the same
 * network into a tfjs graph (src/export/graph.ts implements an OpSet over symbolic tensors).
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Activation applied after a layer. */
export type Activation = 'relu' | 'relu6' | 'none';

/**
 * Batch-norm parameters. `gamma`/`beta` are trained; the moving statistics are updated by the
 * training-mode forward (pdseg's convention: moving = momentum·moving + (1 − momentum)·batch,
 * with the biased batch variance) and used at inference.
 */
export interface BatchNormParams {
  kind: 'bn';
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  movingMean: tf.Variable<tf.Rank.R1>;
  movingVariance: tf.Variable<tf.Rank.R1>;
}

/** Group-norm parameters: `groups` divides the channel count; same computation in training and inference. */
export interface GroupNormParams {
  kind: 'gn';
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  groups: number;
}

export type NormParams = BatchNormParams | GroupNormParams;

export interface NormOptions {
  /** Training mode: batch statistics (and moving-statistics update) instead of moving statistics. */
  training: boolean;
  /** Moving-average momentum of batch norm. */
  momentum: number;
  epsilon: number;
}

export interface ConvOptions {
  /** Stride of both spatial axes (default 1). Must be 1 when dilation > 1. */
  stride?: number;
  /** Atrous rate of both spatial axes (default 1). */
  dilation?: number;
}

/** A bias-free convolution followed by a norm: `kernel` is [kh, kw, cin, cout] (depthwise: [kh, kw, c, 1]). */
export interface ConvNormParams {
  kernel: tf.Tensor4D;
  norm: NormParams;
}

export interface ConvNormActOptions extends ConvOptions, NormOptions {
  act: Activation;
}

/** A convolution with an optional bias: `kernel` [kh, kw, cin, cout], `bias` [cout]. */
export interface ConvBiasParams {
  kernel: tf.Tensor4D;
  bias?: tf.Tensor1D;
}

export interface ConvBiasOptions extends ConvOptions {
  act?: Activation;
}

/** Static shape of an NHWC tensor. */
export type Shape4 = readonly [number, number, number, number];

/**
 * The composite ops, over a tensor type T (tf.Tensor4D for computation, a symbolic tensor for
 * export). All tensors are NHWC; convolutions use TensorFlow's 'same' padding.
 */
export interface OpSet<T> {
  /** Static shape of x. */
  shape(x: T): Shape4;
  /** conv (no bias) → norm → activation. */
  convBnAct(x: T, params: ConvNormParams, opts: ConvNormActOptions): T;
  /** depthwise conv (no bias) → norm → activation. */
  depthwiseBnAct(x: T, params: ConvNormParams, opts: ConvNormActOptions): T;
  /** conv + optional bias → optional activation (no norm). */
  conv2dBias(x: T, params: ConvBiasParams, opts?: ConvBiasOptions): T;
  /** Bilinear resize with half-pixel centres (align_corners=False), to [h, w]. */
  resizeBilinear(x: T, size: readonly [number, number]): T;
  /** Mean over H and W, keeping them: [N, 1, 1, C]. */
  globalAvgPool(x: T): T;
  /** Inverted dropout (kept values scaled by 1/(1 − rate)); deterministic for a seed. Training only. */
  dropout(x: T, rate: number, seed: number): T;
  /** Concatenation along channels. */
  concat(xs: readonly T[]): T;
  /** Elementwise sum of two same-shape tensors. */
  add(a: T, b: T): T;
  /** Zero-pad at the bottom and right to [h, w]. */
  padTo(x: T, h: number, w: number): T;
  /** The top-left [h, w] window. */
  crop(x: T, h: number, w: number): T;
  /**
   * Run `f`, a stretch of the network, keeping only what it returns: computing ops free the
   * stretch's other tensors at its end (the peak of an inference pass is then one stretch, not the
   * whole network); a graph builder just runs it.
   */
  block<R>(f: () => R): R;
  /**
   * Run `f`, a stretch of inference passes over weights that do not change meanwhile (an
   * evaluation), letting the ops keep what they derive from the weights (batch norm folded into
   * the convolutions) from one pass to the next until `f` ends. Optional: without it, `f` just runs.
   */
  inferenceScope?<R>(f: () => Promise<R>): Promise<R>;
}
