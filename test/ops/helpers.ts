/** Shared helpers of the op-layer tests: the PyTorch reference values and comparisons. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { REPO_ROOT } from '../helpers/cli.js';

/** A tensor as stored in reference.json: NHWC shape and flat row-major values. */
export interface Packed {
  shape: number[];
  data: number[];
}

export interface BnTrainCase {
  x: Packed;
  gamma: Packed;
  beta: Packed;
  dy: Packed;
  epsilon: number;
  y: Packed;
  dx: Packed;
  dgamma: Packed;
  dbeta: Packed;
  moving_mean: Packed;
  moving_variance: Packed;
  momentum: number;
  new_moving_mean: Packed;
  new_moving_variance: Packed;
}

export interface BnInferCase {
  x: Packed;
  gamma: Packed;
  beta: Packed;
  moving_mean: Packed;
  moving_variance: Packed;
  epsilon: number;
  y: Packed;
}

export interface GnCase {
  x: Packed;
  gamma: Packed;
  beta: Packed;
  groups: number;
  dy: Packed;
  epsilon: number;
  y: Packed;
  dx: Packed;
  dgamma: Packed;
  dbeta: Packed;
}

export interface ResizeCase {
  x: Packed;
  size: [number, number];
  dy: Packed;
  y: Packed;
  dx: Packed;
}

export interface ConvCase {
  x: Packed;
  kernel: Packed;
  stride: number;
  dilation: number;
  depthwise: boolean;
  dy: Packed;
  y: Packed;
  dx: Packed;
  dkernel: Packed;
}

export interface Reference {
  generator: string;
  torch: string;
  cases: { bn_train: BnTrainCase; bn_infer: BnInferCase; gn: GnCase; resize: ResizeCase[]; conv: ConvCase[] };
}

let cached: Reference | undefined;

/** test/ops/fixtures/reference.json, generated once by gen_reference.py with PyTorch. */
export function reference(): Reference {
  cached ??= JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'ops', 'fixtures', 'reference.json'), 'utf8')) as Reference;
  return cached;
}

export function fromPacked<R extends tf.Rank>(p: Packed): tf.Tensor<R> {
  return tf.tensor(p.data, p.shape as tf.ShapeMap[R], 'float32') as tf.Tensor<R>;
}

/** max |a − b| / max(1, max |b|), read from tensors or arrays. */
export function relErr(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  if (av.length !== bv.length) throw new Error(`relErr: lengths ${av.length} and ${bv.length} differ`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < av.length; i++) {
    diff = Math.max(diff, Math.abs((av[i] as number) - (bv[i] as number)));
    scale = Math.max(scale, Math.abs(bv[i] as number));
  }
  return diff / scale;
}

/** Switch to tfjs's stock cpu backend (no seg kernels are registered by the op tests). */
export async function stockCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Deterministic pseudo-random tensor from tfjs's seeded generator. */
export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale));
}
