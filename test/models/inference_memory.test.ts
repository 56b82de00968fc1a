/**
 * An inference pass holds one stretch of the network at a time (OpSet.block: each MobileNetV2 unit,
 * separable convolution, the encoder and the decoder free their intermediate tensors when they
 * end), not every activation of the network until the caller's tidy ends: the peak of tfjs's live
 * bytes during model.apply is under half (0.45) of what it is with blocks that keep everything, and
 * the logits are the same. On the cpu backend.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel } from '../../src/models/build.js';
import { setOps } from '../../src/ops/index.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

/** The logits of one inference pass and the most bytes tfjs held at any kernel of it. */
function inference(x: tf.Tensor4D): { logits: Float32Array; peak: number } {
  const model = buildModel(ConfigSchema.parse({ DATASET: { NUM_CLASSES: 3 }, MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 0.5 } } }), { seed: 4 });
  const engine = tf.engine();
  const run = engine.runKernel;
  let peak = 0;
  engine.runKernel = function (this: typeof engine, ...args: Parameters<typeof run>) {
    const out = run.apply(this, args);
    peak = Math.max(peak, tf.memory().numBytes);
    return out;
  } as typeof run;
  try {
    const base = tf.memory().numBytes;
    const logits = tf.tidy(() => model.apply(x, { training: false }).dataSync() as Float32Array);
    return { logits, peak: peak - base };
  } finally {
    engine.runKernel = run;
    model.dispose();
  }
}

test('an inference pass frees each block as it ends: a fraction of the peak, the same logits', () => {
  const x = tf.randomNormal([2, 96, 96, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const blocks = inference(x);
  const restore = setOps({ block: (f) => f() });
  let whole: { logits: Float32Array; peak: number };
  try {
    whole = inference(x);
  } finally {
    restore();
  }
  x.dispose();
  assert.deepEqual(blocks.logits, whole.logits);
  assert.ok(blocks.peak < 0.5 * whole.peak, `peak with blocks ${blocks.peak} B, keeping everything ${whole.peak} B`);
});
