/** Loading test/golden/losses_reference.json and comparing against it (shared by the loss tests). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { REPO_ROOT } from '../helpers/cli.js';
import type { LossOptions } from '../../src/losses/types.js';

/** One reference case, written by scripts/reference/losses_reference.py. */
export interface GoldenCase {
  name: string;
  loss: string;
  source: string;
  note: string;
  options: LossOptions;
  shape: [number, number, number, number];
  logits: number[];
  labels: number[];
  value: number;
  grad: number[];
  terms?: Record<string, { value: number; grad: number[] }>;
  logitsNCHW?: number[];
  gradNCHW?: number[];
  dynamicWeights?: number[];
}

export interface Golden {
  torch: string;
  cases: GoldenCase[];
}

let cached: Golden | undefined;

export function golden(): Golden {
  cached ??= JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'golden', 'losses_reference.json'), 'utf8')) as Golden;
  return cached;
}

export function goldenCase(name: string): GoldenCase {
  const c = golden().cases.find((k) => k.name === name);
  assert.ok(c, `no golden case ${name}`);
  return c;
}

/** The case's inputs as tensors (float32 logits NHWC, int32 labels NHW). */
export function inputs(c: GoldenCase): { logits: tf.Tensor4D; labels: tf.Tensor3D } {
  const [N, H, W, C] = c.shape;
  return { logits: tf.tensor4d(c.logits, [N, H, W, C], 'float32'), labels: tf.tensor3d(c.labels, [N, H, W], 'int32') };
}

/** Tolerances of the issue: 1e-5 relative on values, 1e-4 relative on gradients (float32). */
export const VALUE_RTOL = 1e-5;
export const GRAD_RTOL = 1e-4;

/** |actual − expected| ≤ 1e-5·|expected| (and exactly 0 when 0 is expected). */
export function assertValue(actual: number, expected: number, what: string): void {
  assert.ok(Number.isFinite(actual), `${what}: value ${actual} is not finite`);
  const err = Math.abs(actual - expected);
  assert.ok(err <= VALUE_RTOL * Math.abs(expected), `${what}: value ${actual} vs reference ${expected} (relative error ${(err / Math.abs(expected)).toExponential(2)})`);
}

/**
 * Element-wise |a_i − e_i| ≤ 1e-4·|e_i| + 1e-6·max|e| (1e-4 relative, with a floor at a millionth
 * of the gradient's scale for entries that are almost 0); an all-zero reference must be matched
 * exactly.
 */
export function assertGrad(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: gradient length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(Number.isFinite(a), `${what}: gradient[${i}] = ${a} is not finite`);
    const excess = Math.abs(a - e) - (GRAD_RTOL * Math.abs(e) + 1e-6 * scale);
    if (excess > worst) {
      worst = excess;
      worstAt = i;
    }
  }
  assert.ok(worstAt < 0, `${what}: gradient[${worstAt}] = ${actual[worstAt]} vs reference ${expected[worstAt]} (scale ${scale})`);
}
