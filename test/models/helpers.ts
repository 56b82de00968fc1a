/** Shared helpers of the model tests: configs from the shipped YAML plus KEY VALUE overrides. */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from '../../src/config/resolve.js';
import type { SegConfig } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/cli.js';

export const ROAD_CONFIG = path.join(REPO_ROOT, 'configs', 'lovasz_hinge_road.yaml');
export const VOC_CONFIG = path.join(REPO_ROOT, 'configs', 'lovasz_softmax_voc.yaml');

/** A resolved config: `file` (default: the road config) plus pdseg-style KEY VALUE overrides. */
export function config(overrides: Record<string, string | number | boolean> = {}, file = ROAD_CONFIG): SegConfig {
  const tokens = Object.entries(overrides).flatMap(([k, v]) => [k, typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v)]);
  return resolveConfig({ cfgFile: file, overrides: tokens, cwd: REPO_ROOT }).config;
}

/** Sum of squares of a tensor, read back. */
export function sumSquares(t: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0] as number);
}
