/**
 * releaseTapeEagerly (src/backend/tape.ts): backpropagation frees each node's incoming gradients and
 * saved tensors once its gradient has run. Gradients are the same bit for bit as with tfjs's own
 * walk, the memory held during the backward pass stays near what the forward pass left (tfjs's own
 * walk grows it by the gradients), a caller's dy survives, gradients of gradients still work, and
 * nothing is left behind. On the cpu backend, with seg's model at a small size.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { tapeRelease } from '../../src/backend/tape.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel } from '../../src/models/build.js';
import { softmaxLoss } from '../../src/losses/softmax_loss.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

/** Gradients of the model's softmax loss, and the most bytes tfjs held at any kernel of the backward pass. */
function step(released: boolean): { grads: Float32Array[]; forwardBytes: number; backwardPeak: number } {
  const model = buildModel(ConfigSchema.parse({ DATASET: { NUM_CLASSES: 3 }, MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 0.5 } } }), { seed: 3 });
  const x = tf.randomNormal([2, 48, 48, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.randomUniform([2, 48, 48], 0, 3, 'int32', 2) as tf.Tensor3D;
  let forwardBytes = 0;
  let backwardPeak = 0;
  let inBackward = false;
  const engine = tf.engine();
  const run = engine.runKernel;
  engine.runKernel = function (this: typeof engine, ...args: Parameters<typeof run>) {
    const out = run.apply(this, args);
    if (inBackward) backwardPeak = Math.max(backwardPeak, tf.memory().numBytes);
    return out;
  } as typeof run;
  tapeRelease.enabled = released;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const loss = softmaxLoss(model.apply(x, { training: true, seed: 5 }), y);
      forwardBytes = tf.memory().numBytes;
      inBackward = true;
      return loss;
    });
    inBackward = false;
    const out = model.trainableVariables().map((v) => (grads[v.name] as tf.Tensor).dataSync() as Float32Array);
    tf.dispose([value, ...Object.values(grads)]);
    return { grads: out, forwardBytes, backwardPeak };
  } finally {
    engine.runKernel = run;
    tapeRelease.enabled = true;
    tf.dispose([x, y]);
    model.dispose();
  }
}

test('the same gradients, bit for bit; the backward pass holds little more than the forward pass left, not 2.5 times', () => {
  const before = tf.memory().numTensors;
  const plain = step(false);
  const eager = step(true);
  assert.equal(eager.grads.length, plain.grads.length);
  eager.grads.forEach((g, i) => assert.deepEqual(g, plain.grads[i], `gradient ${i}`));
  // tfjs's own walk keeps every dy: its peak exceeds the forward's by more than the activations again
  // (here 2.5×); released as the walk goes, the peak is the start of the walk's (here 1.2×)
  assert.ok(plain.backwardPeak > 2 * plain.forwardBytes, `tfjs's walk: ${plain.backwardPeak} vs forward ${plain.forwardBytes}`);
  assert.ok(eager.backwardPeak < 1.4 * eager.forwardBytes, `eager release: ${eager.backwardPeak} vs forward ${eager.forwardBytes}`);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
});

test("a caller's dy is not disposed; gradients of gradients still work", () => {
  const x = tf.tensor1d([1, 2, 3]);
  const dy = tf.tensor1d([1, 0.5, 2]);
  const [dx] = tf.grads((a: tf.Tensor) => tf.relu(tf.mul(a, a)))([x], dy);
  assert.deepEqual(Array.from(dx?.dataSync() ?? []), [2, 2, 12]);
  assert.ok(!dy.isDisposed);
  assert.deepEqual(Array.from(dy.dataSync()), [1, 0.5, 2]);
  // d²/dx² x³ = 6x
  const second = tf.grad(tf.grad((a: tf.Tensor) => tf.pow(a, 3)))(x);
  assert.deepEqual(Array.from(second.dataSync()), [6, 12, 18]);
  tf.dispose([x, dy, dx as tf.Tensor, second]);
});
