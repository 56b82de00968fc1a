/**
 * Partial loading (TRAIN.PRETRAINED_MODEL_DIR) with pdseg's report, and the Keras MobileNetV2
 * name mapping on a layers-format fixture the test writes itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { kerasToSegName, loadPretrained, saveCheckpoint } from '../../src/checkpoint/index.js';
import { buildModel } from '../../src/models/build.js';
import type { Logger } from '../../src/util/context.js';
import { SegError } from '../../src/util/errors.js';
import { tmpDir } from '../helpers/cli.js';
import { config, VOC_CONFIG } from '../models/helpers.js';
import { writeKerasMobileNetV2 } from './fixtures.js';

const tmp = tmpDir('seg-pretrained-');
before(async () => {
  await initBackend({ backend: 'cpu' });
});
after(() => tmp.cleanup());

function recorder(): { log: Logger; lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  return { lines, warnings, log: { info: (m) => lines.push(m), warn: (m) => warnings.push(m), debug: () => {} } };
}

describe('partial load by name and shape', () => {
  test('a 21-class checkpoint initialises a 1-channel road model everywhere but the head', () => {
    const vocCfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true }, VOC_CONFIG);
    const voc = buildModel(vocCfg, { seed: 1 });
    const dir = path.join(tmp.dir, 'voc_final');
    saveCheckpoint(dir, { weights: voc.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: vocCfg });
    const road = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true }), { seed: 2 });
    const headBefore = road.weights.find((w) => w.name === 'logit/kernel')!.variable.dataSync().slice();
    const { log, lines } = recorder();
    const before = tf.memory().numTensors;
    const report = loadPretrained(road, dir, log);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(
      report.skipped.map((s) => s.name),
      ['logit/kernel', 'logit/bias'],
    );
    assert.equal(report.loaded.length, road.weights.length - 2);
    assert.equal(report.total, road.weights.length);
    assert.deepEqual(lines, [
      '[SKIP] logit/kernel: shape [1, 1, 256, 21] vs [1, 1, 256, 1]',
      '[SKIP] logit/bias: shape [21] vs [1]',
      `${road.weights.length - 2}/${road.weights.length} weights loaded from ${dir}`,
    ]);
    for (const w of road.weights) {
      const src = voc.weights.find((v) => v.name === w.name)!.variable;
      if (w.name.startsWith('logit/')) continue;
      assert.deepEqual(w.variable.dataSync(), src.dataSync(), w.name);
    }
    assert.deepEqual(road.weights.find((w) => w.name === 'logit/kernel')!.variable.dataSync(), headBefore);
    voc.dispose();
    road.dispose();
  });

  test('weights the folder lacks are reported as missing', () => {
    const plainCfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 });
    const plain = buildModel(plainCfg);
    const dir = path.join(tmp.dir, 'plain');
    saveCheckpoint(dir, { weights: plain.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: plainCfg });
    const aspp = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true }));
    const { log, lines } = recorder();
    const report = loadPretrained(aspp, dir, log);
    const missing = report.skipped.filter((s) => s.reason === 'missing').map((s) => s.name);
    assert.ok(missing.includes('encoder/image_pool/kernel'));
    assert.ok(lines.includes(`[SKIP] encoder/aspp0/kernel: not in ${dir}`));
    assert.ok(report.skipped.some((s) => s.name === 'logit/kernel' && s.reason === 'shape'));
    assert.equal(lines[lines.length - 1], `${report.loaded.length}/${aspp.weights.length} weights loaded from ${dir}`);
    plain.dispose();
    aspp.dispose();
  });

  test('a missing folder is a data error', () => {
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 }));
    assert.throws(() => loadPretrained(model, path.join(tmp.dir, 'absent')), (e: unknown) => e instanceof SegError && e.kind === 'data' && /pretrained model folder .*absent not found/.test(e.message));
    model.dispose();
  });
});

describe('Keras MobileNetV2 (tfjs layers format)', () => {
  test('name mapping (hand-written table)', () => {
    const cases: Array<[string, string | undefined]> = [
      ['Conv1/kernel', 'backbone/stem/kernel'],
      ['bn_Conv1/moving_variance', 'backbone/stem/bn/moving_variance'],
      ['expanded_conv_depthwise/depthwise_kernel', 'backbone/block_0/depthwise/kernel'],
      ['expanded_conv_depthwise_BN/gamma', 'backbone/block_0/depthwise/bn/gamma'],
      ['expanded_conv_project/kernel', 'backbone/block_0/project/kernel'],
      ['block_1_expand/kernel', 'backbone/block_1/expand/kernel'],
      ['block_16_project_BN/beta', 'backbone/block_16/project/bn/beta'],
      ['block_9_depthwise/depthwise_kernel', 'backbone/block_9/depthwise/kernel'],
      ['mobilenetv2_1.00_224/block_3_expand_BN/moving_mean:0', 'backbone/block_3/expand/bn/moving_mean'],
      ['Conv_1/kernel', undefined],
      ['Conv_1_bn/gamma', undefined],
      ['predictions/kernel', undefined],
      ['block_1_expand/bias', undefined],
    ];
    for (const [keras, seg] of cases) assert.equal(kerasToSegName(keras), seg, keras);
  });

  test('a layers-format MobileNetV2 (alpha 0.5) loads into every backbone weight of DEPTH_MULTIPLIER 0.5', () => {
    const dir = path.join(tmp.dir, 'keras_050');
    const fixture = writeKerasMobileNetV2(dir, '0.5', 3);
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.5 }));
    const { log, lines } = recorder();
    const report = loadPretrained(model, dir, log);
    const backbone = model.weights.filter((w) => w.name.startsWith('backbone/'));
    assert.equal(report.loaded.length, backbone.length);
    assert.deepEqual(report.skipped.map((s) => s.name), ['logit/kernel', 'logit/bias']);
    assert.equal(lines[lines.length - 1], `${backbone.length}/${model.weights.length} weights loaded from ${dir}`);
    const pairs: Array<[string, string]> = [
      ['Conv1/kernel', 'backbone/stem/kernel'],
      ['bn_Conv1/moving_variance', 'backbone/stem/bn/moving_variance'],
      ['expanded_conv_depthwise/depthwise_kernel', 'backbone/block_0/depthwise/kernel'],
      ['block_5_expand/kernel', 'backbone/block_5/expand/kernel'],
      ['block_16_project_BN/gamma', 'backbone/block_16/project/bn/gamma'],
    ];
    for (const [k, s] of pairs) {
      const v = model.weights.find((w) => w.name === s)!.variable;
      assert.deepEqual(v.shape, fixture.shapes.get(k), s);
      assert.deepEqual(v.dataSync(), fixture.values.get(k), `${k} → ${s}`);
    }
    model.dispose();
  });

  test('loaded into another multiplier, every mismatching shape is skipped with its shapes', () => {
    const dir = path.join(tmp.dir, 'keras_050_b');
    writeKerasMobileNetV2(dir, '0.5', 4);
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 1.0 }));
    const { log, lines, warnings } = recorder();
    const report = loadPretrained(model, dir, log);
    assert.ok(lines.includes('[SKIP] backbone/stem/kernel: shape [3, 3, 3, 16] vs [3, 3, 3, 32]'));
    // No weight of the 0.5 network has the shape of its namesake at 1.0: nothing loads, and a warning says so.
    assert.equal(report.loaded.length, 0);
    assert.equal(warnings.length, 1);
    model.dispose();
  });
});
