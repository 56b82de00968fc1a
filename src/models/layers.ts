/**
 * Layer constructors: each creates its variables in a VariableStore and returns a Layer that calls
 * one composite op of the op layer (src/ops). Nothing here computes with tf.* directly.
 *
 * Weight names under a layer `<scope>/<name>/`:
 *   kernel                                   the convolution kernel ([kh, kw, cin, cout], depthwise [kh, kw, c, 1])
 *   bias                                     (conv2dBias layers only)
 *   bn/{gamma, beta, moving_mean, moving_variance}   batch norm (moving statistics are not trainable)
 *   gn/{gamma, beta}                         group norm
 */
import type * as tf from '@tensorflow/tfjs-core';
import { groupsFor } from '../ops/norm.js';
import type { Activation, NormParams } from '../ops/types.js';
import type { VariableStore } from './variables.js';
import type { Layer } from './types.js';

/** Which normalisation a layer uses, and its hyper-parameters. */
export interface NormSpec {
  type: 'bn' | 'gn';
  /** Batch-norm moving-average momentum. */
  momentum: number;
  epsilon: number;
  /** Wanted group count of group norm (the nearest divisor of the channel count is used). */
  groups: number;
}

/**
 * The momentum of the `updates`-th moving-statistics update: min(m, (1 + t)/(10 + t)), the warm-up of
 * TensorFlow's ExponentialMovingAverage(num_updates). Moving statistics start at mean 0, variance 1,
 * far from a fresh network's (depthwise outputs have variance ~2/C); at pdseg's m = 0.99 they would
 * need hundreds of steps to forget that start, and an eval-mode network predicts only the prior
 * meanwhile. Without a count (a lone forward pass) the momentum is m.
 */
export function movingMomentum(m: number, updates: number | undefined): number {
  return updates === undefined ? m : Math.min(m, (1 + updates) / (10 + updates));
}

function makeNorm(store: VariableStore, channels: number, spec: NormSpec): NormParams {
  if (spec.type === 'gn') {
    const s = store.scope('gn');
    return {
      kind: 'gn',
      gamma: s.ones('gamma', [channels]) as tf.Variable<tf.Rank.R1>,
      beta: s.zeros('beta', [channels]) as tf.Variable<tf.Rank.R1>,
      groups: groupsFor(channels, spec.groups),
    };
  }
  const s = store.scope('bn');
  return {
    kind: 'bn',
    gamma: s.ones('gamma', [channels]) as tf.Variable<tf.Rank.R1>,
    beta: s.zeros('beta', [channels]) as tf.Variable<tf.Rank.R1>,
    movingMean: s.zeros('moving_mean', [channels], false) as tf.Variable<tf.Rank.R1>,
    movingVariance: s.ones('moving_variance', [channels], false) as tf.Variable<tf.Rank.R1>,
  };
}

export interface ConvNormSpec {
  stride?: number;
  dilation?: number;
  act: Activation;
  norm: NormSpec;
}

/** k×k convolution (no bias) → norm → activation, named `<name>/kernel`, `<name>/bn/...`. */
export function convBn(store: VariableStore, name: string, cin: number, cout: number, k: number, spec: ConvNormSpec): Layer {
  const s = store.scope(name);
  const kernel = s.heNormal('kernel', [k, k, cin, cout], k * k * cin) as tf.Variable<tf.Rank.R4>;
  const norm = makeNorm(s, cout, spec.norm);
  const opts = { stride: spec.stride ?? 1, dilation: spec.dilation ?? 1, act: spec.act, momentum: spec.norm.momentum, epsilon: spec.norm.epsilon };
  return (ops, x, ctx) => ops.convBnAct(x, { kernel, norm }, { ...opts, momentum: movingMomentum(opts.momentum, ctx.updates), training: ctx.training });
}

/** k×k depthwise convolution (no bias) → norm → activation. */
export function depthwiseBn(store: VariableStore, name: string, channels: number, k: number, spec: ConvNormSpec): Layer {
  const s = store.scope(name);
  // Paddle's default conv initialiser counts every input channel, groups or not (fan k²·C): it is
  // what pdseg's depthwise convs get, and torchvision's fan-out rule gives the same.
  const kernel = s.heNormal('kernel', [k, k, channels, 1], k * k * channels) as tf.Variable<tf.Rank.R4>;
  const norm = makeNorm(s, channels, spec.norm);
  const opts = { stride: spec.stride ?? 1, dilation: spec.dilation ?? 1, act: spec.act, momentum: spec.norm.momentum, epsilon: spec.norm.epsilon };
  return (ops, x, ctx) => ops.depthwiseBnAct(x, { kernel, norm }, { ...opts, momentum: movingMomentum(opts.momentum, ctx.updates), training: ctx.training });
}

/**
 * Depthwise-separable convolution: 3×3 depthwise (`<name>/depthwise`) → norm → act, then 1×1
 * (`<name>/pointwise`) → norm → act, as pdseg's separate_conv (with act = relu).
 */
export function sepConv(store: VariableStore, name: string, cin: number, cout: number, spec: { dilation?: number; act: Activation; norm: NormSpec }): Layer {
  const s = store.scope(name);
  const dw = depthwiseBn(s, 'depthwise', cin, 3, { dilation: spec.dilation ?? 1, act: spec.act, norm: spec.norm });
  const pw = convBn(s, 'pointwise', cin, cout, 1, { act: spec.act, norm: spec.norm });
  return (ops, x, ctx) => ops.block(() => pw(ops, dw(ops, x, ctx), ctx));
}

/**
 * k×k convolution with an optional bias and activation (no norm). `std` chooses a truncated-normal
 * initialisation of that standard deviation instead of He's.
 */
export function convBias(
  store: VariableStore,
  name: string,
  cin: number,
  cout: number,
  k: number,
  spec: { bias: boolean; act?: Activation; std?: number },
): Layer {
  const s = store.scope(name);
  const kernel = (spec.std === undefined ? s.heNormal('kernel', [k, k, cin, cout], k * k * cin) : s.truncatedNormal('kernel', [k, k, cin, cout], spec.std)) as tf.Variable<tf.Rank.R4>;
  const bias = spec.bias ? (s.zeros('bias', [cout]) as tf.Variable<tf.Rank.R1>) : undefined;
  const act = spec.act ?? 'none';
  return (ops, x) => ops.conv2dBias(x, bias ? { kernel, bias } : { kernel }, { act });
}
