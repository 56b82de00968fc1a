import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfusionMatrix, pickMetric } from '../../src/metrics/confusion.js';

const close = (a: number | null | undefined, b: number, msg?: string): void => {
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${msg ?? ''} ${String(a)} != ${b}`);
};

test('metrics from a hand-computed 3-class confusion matrix (ignore pixels excluded)', () => {
  // (label, prediction) pairs; the 255 label is ignored whatever the prediction.
  const labels = [0, 0, 1, 1, 2, 255, 2, 0];
  const preds = [0, 1, 1, 1, 2, 0, 0, 0];
  const cm = new ConfusionMatrix(3);
  cm.update(Int32Array.from(labels), Int32Array.from(preds), 255);
  const m = cm.metrics();
  // rows (labels): [2 1 0], [0 2 0], [1 0 1]; rows = 3 2 2; cols = 3 3 1; total 7; trace 5
  assert.deepEqual(m.confusion, [[2, 1, 0], [0, 2, 0], [1, 0, 1]]);
  assert.equal(m.pixels, 7);
  close(m.iou[0], 2 / 4, 'IoU0');
  close(m.iou[1], 2 / 3, 'IoU1');
  close(m.iou[2], 1 / 2, 'IoU2');
  close(m.miou, (1 / 2 + 2 / 3 + 1 / 2) / 3, 'mIoU');
  close(m.miouAllClasses, (1 / 2 + 2 / 3 + 1 / 2) / 3);
  close(m.acc, 5 / 7, 'acc');
  close(m.precision[0], 2 / 3);
  close(m.precision[1], 2 / 3);
  close(m.precision[2], 1);
  close(m.recall[0], 2 / 3);
  close(m.recall[1], 1);
  close(m.recall[2], 1 / 2);
  close(m.dice[1], 4 / 5);
  // po = 35/49, pe = (3·3 + 2·3 + 2·1)/49 = 17/49 → kappa = 18/32
  close(m.kappa, 18 / 32, 'kappa');
  close(m.labelFraction[0], 3 / 7);
  close(pickMetric(m, 'iou_1'), 2 / 3);
  close(pickMetric(m, 'miou'), m.miou);
});

test('a class absent from labels and predictions has no IoU and does not lower mIoU (pdseg counted it as 0)', () => {
  const cm = new ConfusionMatrix(3);
  cm.update([0, 0, 1], [0, 0, 1], 255);
  const m = cm.metrics();
  assert.deepEqual(m.iou, [1, 1, null]);
  assert.equal(m.miou, 1);
  close(m.miouAllClasses, 2 / 3);
  assert.equal(m.precision[2], null);
  assert.equal(m.recall[2], null);
  assert.equal(pickMetric(m, 'iou_2'), 0);
});

test('a class predicted but never labelled has IoU 0 and counts in mIoU', () => {
  const cm = new ConfusionMatrix(2);
  cm.update([0, 0, 0, 0], [0, 0, 1, 1], 255);
  const m = cm.metrics();
  assert.deepEqual(m.iou, [0.5, 0]);
  close(m.miou, 0.25);
  assert.equal(m.recall[1], null);
  close(m.precision[1], 0);
  // po = 0.5, pe = (4·2 + 0·2)/16 = 0.5 → kappa 0
  close(m.kappa, 0);
});

test('merge adds counts; updates accumulate; out-of-range values are errors', () => {
  const a = new ConfusionMatrix(2);
  const b = new ConfusionMatrix(2);
  a.update([0, 1], [0, 1], 255);
  b.update([1, 1], [0, 1], 255);
  a.merge(b);
  assert.deepEqual(a.metrics().confusion, [[1, 0], [1, 2]]);
  assert.throws(() => a.update([2], [0], 255), /label 2 \/ prediction 0 at pixel 0 is outside \[0, 1\]/);
  assert.throws(() => a.update([0], [5], 255), /outside/);
  assert.throws(() => a.update([0, 1], [0], 255), /differ in length/);
  const empty = new ConfusionMatrix(2).metrics();
  assert.equal(empty.pixels, 0);
  assert.equal(empty.miou, 0);
  assert.equal(empty.acc, 0);
});
