/**
 * The same DeepLabv3+ (same seed) on tfjs's stock cpu backend (pure JS, no seg kernels) and on
 * wasm with seg's training kernels: inference logits, training logits and every gradient agree.
 * OS8 with ASPP and the decoder exercises atrous depthwise convs (rates 2 and 4 in the backbone,
 * 12/24/36 in ASPP), strided convs, both resizes, batch norm in both modes and dropout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/backend/index.js';
import { buildModel } from '../../src/models/build.js';
import { relErr } from '../ops/helpers.js';
import { config } from './helpers.js';

interface Run {
  infer: Float32Array;
  train: Float32Array;
  /** Gradients in inference mode (moving-statistics batch norm): well conditioned. */
  inferGrads: Map<string, Float32Array>;
  /** Gradients in training mode (batch-statistics batch norm over small maps). */
  trainGrads: Map<string, Float32Array>;
}

function run(): Run {
  const cfg = config({
    'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25,
    'MODEL.DEEPLAB.OUTPUT_STRIDE': 8,
    'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true,
    'MODEL.DEEPLAB.ENABLE_DECODER': true,
    'SOLVER.LOSS': "['softmax_loss']",
    'DATASET.NUM_CLASSES': 3,
    'MODEL.DEEPLAB.ENCODER.ASPP_CONVS_FILTERS': 32,
    'MODEL.DEEPLAB.DECODER.CONV_FILTERS': 32,
  });
  const model = buildModel(cfg, { seed: 7 });
  const x = tf.randomNormal([2, 32, 40, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  const infer = tf.tidy(() => model.apply(x, { training: false }).dataSync() as Float32Array);
  const train = tf.tidy(() => model.apply(x, { training: true, seed: 3 }).dataSync() as Float32Array);
  const gradients = (training: boolean): Map<string, Float32Array> => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.apply(x, { training, seed: 3 }), 0.5))), model.trainableVariables());
    const out = new Map<string, Float32Array>();
    for (const w of model.weights) if (w.trainable) out.set(w.name, grads[w.variable.name]!.dataSync() as Float32Array);
    value.dispose();
    tf.dispose(grads);
    return out;
  };
  const inferGrads = gradients(false);
  const trainGrads = gradients(true);
  x.dispose();
  model.dispose();
  return { infer, train, inferGrads, trainGrads };
}

/** The weight whose gradient differs most (relErr), and by how much. */
function worst(a: Map<string, Float32Array>, b: Map<string, Float32Array>): [string, number] {
  let w: [string, number] = ['', 0];
  for (const [name, g] of a) {
    const e = relErr(b.get(name)!, g);
    if (e > w[1]) w = [name, e];
  }
  return w;
}

describe('cpu (stock) vs wasm (seg kernels)', () => {
  test('inference and training logits and all gradients agree', async () => {
    await tf.setBackend('cpu');
    const cpu = run();
    const info = await initBackend({ backend: 'wasm' });
    assert.equal(info.name, 'wasm');
    const wasm = run();
    assert.ok(relErr(wasm.infer, cpu.infer) < 1e-4, `inference ${relErr(wasm.infer, cpu.infer)}`);
    assert.ok(relErr(wasm.train, cpu.train) < 1e-4, `training ${relErr(wasm.train, cpu.train)}`);
    const [iName, iErr] = worst(cpu.inferGrads, wasm.inferGrads);
    assert.ok(iErr < 1e-4, `inference-mode gradient of ${iName}: ${iErr}`);
    // Batch statistics over small maps (4x5 at OS8) amplify summation-order differences a little.
    const [tName, tErr] = worst(cpu.trainGrads, wasm.trainGrads);
    assert.ok(tErr < 1e-3, `training-mode gradient of ${tName}: ${tErr}`);
  });
});
