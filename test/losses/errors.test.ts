/**
 * Bad inputs get a clear SegError: the wrong number of channels for a loss (the "1 vs 2
 * channels" confusion, naming both set-ups), labels that do not match the logits (with a hint
 * for NCHW logits), wrong dtypes, labels outside the classes (a data error, never clamped), and
 * bad options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { LOSSES, type LossName } from '../../src/losses/registry.js';
import type { LossOptions } from '../../src/losses/types.js';
import { SegError } from '../../src/util/errors.js';
import { useBackend } from './backend.js';

function expectError(fn: () => unknown, kind: string, ...patterns: RegExp[]): SegError {
  const before = tf.memory().numTensors;
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SegError, `expected a SegError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    for (const p of patterns) assert.match(`${e.message}\nhint: ${e.hint ?? ''}`, p);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.equal(tf.memory().numTensors, before, 'nothing left behind');
    return e;
  }
  assert.fail('expected an error');
}

function call(name: LossName, logitsShape: readonly number[], labels: number[], labelsShape: readonly number[], options?: LossOptions, labelsDtype: 'int32' | 'float32' = 'int32') {
  return () =>
    tf.tidy(() => {
      const x: tf.Tensor = tf.zeros(logitsShape as number[]);
      const y: tf.Tensor = tf.tensor(labels, labelsShape as number[], labelsDtype);
      return LOSSES[name].fn(x as tf.Tensor4D, y as tf.Tensor3D, options);
    });
}

test('a multi-channel tensor given to a one-channel loss names both set-ups', async () => {
  await useBackend('cpu');
  for (const name of ['bce_loss', 'dice_loss', 'lovasz_hinge_loss'] as const) {
    const e = expectError(call(name, [1, 2, 2, 2], [0, 1, 0, 1], [1, 2, 2]), 'usage', new RegExp(`^${name} takes one-channel logits \\[N, H, W, 1\\].*got 2 channels`));
    assert.match(e.hint ?? '', /1-channel head.*bce_loss, dice_loss or lovasz_hinge_loss.*2-channel head.*softmax_loss or lovasz_softmax_loss/);
  }
});

test('a one-channel tensor given to a softmax loss names both set-ups', async () => {
  await useBackend('cpu');
  for (const name of ['softmax_loss', 'lovasz_softmax_loss'] as const) {
    const e = expectError(call(name, [1, 2, 2, 1], [0, 1, 0, 1], [1, 2, 2]), 'usage', new RegExp(`^${name} takes one logit map per class \\(C ≥ 2`));
    assert.match(e.hint ?? '', /1-channel head.*2-channel head/);
  }
});

test('labels that do not match the logits: the expected shape, and a hint for NCHW logits', async () => {
  await useBackend('cpu');
  expectError(call('bce_loss', [2, 4, 4, 1], new Array(16).fill(0), [1, 4, 4]), 'usage', /labels of shape \[1, 4, 4\] do not match logits of shape \[2, 4, 4, 1\]; expected labels \[2, 4, 4\]/);
  // NCHW logits [N, C, H, W] = [1, 3, 5, 6] with labels [1, 5, 6].
  expectError(call('softmax_loss', [1, 3, 5, 6], new Array(30).fill(0), [1, 5, 6]), 'usage', /look channels-first, NCHW/, /tf\.transpose\(logits, \[0, 2, 3, 1\]\)/);
  // Labels with a trailing channel axis.
  expectError(call('lovasz_hinge_loss', [1, 2, 2, 1], [0, 1, 0, 1], [1, 2, 2, 1] as number[]), 'usage', /labels of shape \[1, 2, 2, 1\]/);
});

test('dtypes: float labels and int logits are refused', async () => {
  await useBackend('cpu');
  expectError(call('lovasz_hinge_loss', [1, 2, 2, 1], [0, 1, 0, 1], [1, 2, 2], {}, 'float32'), 'usage', /labels must be an int32 tensor of class indices, got float32/);
  expectError(
    () => tf.tidy(() => LOSSES.bce_loss.fn(tf.zeros([1, 2, 2, 1], 'int32') as tf.Tensor4D, tf.zeros([1, 2, 2], 'int32') as tf.Tensor3D)),
    'usage',
    /logits must be float32, got int32/,
  );
  expectError(() => tf.tidy(() => LOSSES.bce_loss.fn(tf.zeros([4, 1]) as unknown as tf.Tensor4D, tf.zeros([4], 'int32') as unknown as tf.Tensor3D)), 'usage', /4-D NHWC tensor/);
});

test('labels outside the classes are a data error with the position, never clamped', async () => {
  await useBackend('cpu');
  // Binary losses: only 0, 1 and the ignore index.
  for (const name of ['bce_loss', 'dice_loss', 'lovasz_hinge_loss'] as const) {
    expectError(call(name, [2, 2, 3, 1], [0, 1, 255, 0, 1, 0, 1, 0, 0, 0, 2, 0], [2, 2, 3]), 'data', /label 2 at image 1, row 1, column 1 is neither a class index \(0 or 1\) nor the ignore index 255/);
  }
  // Softmax losses: [0, C−1]; a negative label too.
  expectError(call('softmax_loss', [1, 2, 2, 3], [0, 3, 1, 2], [1, 2, 2]), 'data', /label 3 .* \(in \[0, 2\]\)/, /NUM_CLASSES/);
  expectError(call('lovasz_softmax_loss', [1, 2, 2, 3], [0, 1, -1, 2], [1, 2, 2]), 'data', /label -1 at image 0, row 1, column 0/);
  // 255 is a class index error when another ignore index is configured.
  expectError(call('lovasz_softmax_loss', [1, 1, 2, 3], [255, 1], [1, 1, 2], { ignoreIndex: 9 }), 'data', /label 255 .* nor the ignore index 9/);
});

test('bad options: class weights of the wrong length, unknown classes mode', async () => {
  await useBackend('cpu');
  expectError(call('softmax_loss', [1, 1, 2, 3], [0, 1], [1, 1, 2], { classWeights: [1, 2] }), 'usage', /2 class weights for 3 classes/, /CROSS_ENTROPY_WEIGHT/);
  expectError(call('lovasz_softmax_loss', [1, 1, 2, 3], [0, 1], [1, 1, 2], { classes: 'some' as 'all' }), 'usage', /classes must be 'present' or 'all'/);
  expectError(call('softmax_loss', [1, 1, 2, 3], [0, 1], [1, 1, 2], { classWeights: [1, -2, 1] }), 'usage', /non-negative/);
});
