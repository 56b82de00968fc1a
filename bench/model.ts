/**
 * The network the benchmark trains: seg's own DeepLabv3+/MobileNetV2 from src/models/build.ts, or,
 * with --model, a module exporting `createBenchModel(tf, { numClasses, size })`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What the benchmark needs from a model. */
export interface BenchModel {
  variables: tf.Variable[];
  /** Training-mode forward pass: NHWC images → NHWC logits at the input size. */
  forward(x: tf.Tensor4D): tf.Tensor4D;
  params: number;
  description: string;
}

type Factory = (t: typeof tf, opts: { numClasses: number; size: number }) => BenchModel;

/** Load the benchmark model (see the module comment). */
export async function loadBenchModel(numClasses: number, size: number, modelUrl: string | undefined): Promise<BenchModel> {
  if (modelUrl !== undefined) {
    const mod = (await import(modelUrl)) as { createBenchModel?: Factory };
    if (typeof mod.createBenchModel !== 'function') throw new Error(`${modelUrl} does not export createBenchModel`);
    return mod.createBenchModel(tf, { numClasses, size });
  }
  const { segBenchModel } = await import('./seg_model.js');
  return segBenchModel(numClasses, size);
}
