/**
 * Every loss against the reference values and gradients of test/golden/losses_reference.json
 * (scripts/reference/losses_reference.py: the authors' Lovász code in float64 with a stable sort,
 * torch's BCE and cross-entropy, a hand-written dice), on the cpu and wasm backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BACKENDS, useBackend } from './backend.js';
import { LOSSES, isLossName } from '../../src/losses/registry.js';
import { assertGrad, assertValue, golden, goldenCase, inputs } from './golden.js';

/** Loss value and d loss / d logits of a registry loss. */
function valueAndGrad(name: string, logits: tf.Tensor4D, labels: tf.Tensor3D, options: object) {
  assert.ok(isLossName(name));
  const fn = LOSSES[name].fn;
  const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => fn(x, labels, options))(logits);
  const out = { value: value.dataSync()[0] as number, grad: grad.dataSync() as Float32Array };
  value.dispose();
  grad.dispose();
  return out;
}

for (const backend of BACKENDS) {
  test(`every golden case: value and gradient within 1e-5 / 1e-4 [${backend}]`, async () => {
    await useBackend(backend);
    const cases = golden().cases.filter((c) => c.loss !== 'mix');
    assert.ok(cases.length >= 35, 'the reference file has its cases');
    for (const c of cases) {
      const { logits, labels } = inputs(c);
      const r = valueAndGrad(c.loss, logits, labels, c.options);
      assertValue(r.value, c.value, `${c.name} (${c.source}: ${c.note})`);
      assertGrad(r.grad, c.grad, `${c.name} (${c.source}: ${c.note})`);
      tf.dispose([logits, labels]);
    }
  });

  test(`NCHW reference arrays transposed to NHWC give the same loss and gradient [${backend}]`, async () => {
    await useBackend(backend);
    const c = goldenCase('layout_nchw');
    const [N, H, W, C] = c.shape;
    assert.ok(c.logitsNCHW && c.gradNCHW);
    const nchw = tf.tensor4d(c.logitsNCHW, [N, C, H, W], 'float32');
    const logits = tf.transpose(nchw, [0, 2, 3, 1]) as tf.Tensor4D;
    // The NHWC copy in the file and the transposed NCHW copy are the same tensor...
    assert.deepEqual(Array.from(logits.dataSync()), Array.from(Float32Array.from(c.logits)));
    const labels = tf.tensor3d(c.labels, [N, H, W], 'int32');
    const r = valueAndGrad('lovasz_softmax_loss', logits, labels, {});
    assertValue(r.value, c.value, 'layout');
    // ... and the gradient, transposed back to NCHW, is the reference's own NCHW gradient.
    const gradNCHW = tf.tidy(() => tf.transpose(tf.tensor4d(r.grad, [N, H, W, C]), [0, 3, 1, 2]).dataSync());
    assertGrad(gradNCHW, c.gradNCHW, 'layout (NCHW gradient)');
    // Feeding the NCHW tensor itself is refused with a hint, not silently misread.
    assert.throws(() => LOSSES.lovasz_softmax_loss.fn(nchw, labels), /look channels-first, NCHW/);
    tf.dispose([nchw, logits, labels]);
  });
}
