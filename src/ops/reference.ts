/**
 * The reference OpSet: every composite op from tf.* primitives, correct on every backend (stock
 * `cpu` included). Faster implementations are checked against it.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { Rng } from '../util/rng.js';
import { conv2dSame, depthwiseSame } from './conv.js';
import { normalize } from './norm.js';
import { resizeBilinear } from './resize.js';
import type { Activation, ConvBiasOptions, ConvBiasParams, ConvNormActOptions, ConvNormParams, OpSet, Shape4 } from './types.js';

/** relu / relu6 / identity. */
export function activate(x: tf.Tensor4D, act: Activation): tf.Tensor4D {
  if (act === 'relu') return tf.relu(x);
  if (act === 'relu6') return tf.relu6(x);
  return x;
}

export function convBnAct(x: tf.Tensor4D, p: ConvNormParams, o: ConvNormActOptions): tf.Tensor4D {
  return tf.tidy(() => activate(normalize(conv2dSame(x, p.kernel, o.stride ?? 1, o.dilation ?? 1), p.norm, o), o.act));
}

export function depthwiseBnAct(x: tf.Tensor4D, p: ConvNormParams, o: ConvNormActOptions): tf.Tensor4D {
  return tf.tidy(() => activate(normalize(depthwiseSame(x, p.kernel, o.stride ?? 1, o.dilation ?? 1), p.norm, o), o.act));
}

export function conv2dBias(x: tf.Tensor4D, p: ConvBiasParams, o: ConvBiasOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    const y = conv2dSame(x, p.kernel, o.stride ?? 1, o.dilation ?? 1);
    return activate(p.bias ? tf.add(y, p.bias) : y, o.act ?? 'none');
  });
}

export function globalAvgPool(x: tf.Tensor4D): tf.Tensor4D {
  return tf.mean(x, [1, 2], true);
}

/**
 * Inverted dropout with a mask drawn from seg's seeded generator (src/util/rng.ts): the same seed
 * gives the same mask on every backend.
 */
export function dropout(x: tf.Tensor4D, rate: number, seed: number): tf.Tensor4D {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x.clone();
  const rng = new Rng(seed);
  const mask = new Float32Array(x.size);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.random() < rate ? 0 : keep;
  return tf.tidy(() => tf.mul(x, tf.tensor4d(mask, x.shape)));
}

export function concat(xs: readonly tf.Tensor4D[]): tf.Tensor4D {
  if (xs.length === 1) return (xs[0] as tf.Tensor4D).clone();
  return tf.concat(xs as tf.Tensor4D[], 3);
}

export function add(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  return tf.add(a, b);
}

export function padTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const [, xh, xw] = x.shape;
  if (h < xh || w < xw) throw new Error(`padTo: ${xh}x${xw} is larger than ${h}x${w}`);
  if (h === xh && w === xw) return x.clone();
  return tf.pad(x, [[0, 0], [0, h - xh], [0, w - xw], [0, 0]]);
}

export function crop(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const [, xh, xw] = x.shape;
  if (h > xh || w > xw) throw new Error(`crop: ${h}x${w} is larger than ${xh}x${xw}`);
  if (h === xh && w === xw) return x.clone();
  return tf.slice(x, [0, 0, 0, 0], [-1, h, w, -1]);
}

/** tf.tidy over a block's results (tensors, or objects and arrays of them). */
function block<R>(f: () => R): R {
  return tf.tidy(f as () => tf.TensorContainer) as R;
}

export const referenceOps: OpSet<tf.Tensor4D> = Object.freeze({
  shape: (x: tf.Tensor4D): Shape4 => x.shape,
  convBnAct,
  depthwiseBnAct,
  conv2dBias,
  resizeBilinear,
  globalAvgPool,
  dropout,
  concat,
  add,
  padTo,
  crop,
  block,
});
