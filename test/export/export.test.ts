/**
 * `seg export`: the tfjs graph model is loaded by a fresh process running plain @tensorflow/tfjs
 * (tf.loadGraphModel over HTTP, fixtures/run_graph_model.mjs) and must reproduce the training
 * model's probabilities on the same input; deploy.yaml/deploy.json describe the preprocessing; the
 * CLI exports a checkpoint and fails clearly on a missing or mismatching one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as yaml from 'js-yaml';
import { initBackend } from '../../src/backend/index.js';
import { saveCheckpoint } from '../../src/checkpoint/index.js';
import type { SegConfig } from '../../src/config/schema.js';
import { exportModel } from '../../src/export/export.js';
import { buildModel, type DeepLabV3Plus } from '../../src/models/build.js';
import { REPO_ROOT, runSeg, tmpDir } from '../helpers/cli.js';
import { config, ROAD_CONFIG, VOC_CONFIG } from '../models/helpers.js';

const RUNNER = path.join(REPO_ROOT, 'test', 'export', 'fixtures', 'run_graph_model.mjs');
const tmp = tmpDir('seg-export-');
before(async () => {
  await initBackend({ backend: 'cpu' });
});
after(() => tmp.cleanup());

/** Run the exported model in a fresh tfjs process on `x`; returns the probabilities and what tfjs reports. */
async function runExported(dir: string, x: tf.Tensor4D): Promise<{ probs: Float32Array; info: { inputs: Array<{ name: string; shape: number[] }>; outputShape: number[] } }> {
  const inFile = path.join(tmp.dir, `in-${path.basename(dir)}.bin`);
  const outFile = path.join(tmp.dir, `out-${path.basename(dir)}.bin`);
  fs.writeFileSync(inFile, Buffer.from((x.dataSync() as Float32Array).buffer));
  const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, dir, inFile, JSON.stringify(x.shape), outFile], { cwd: REPO_ROOT });
  const buf = fs.readFileSync(outFile);
  return { probs: new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), info: JSON.parse(stdout.trim().split('\n').pop() ?? '{}') };
}

/** The training model's probabilities: softmax, or [1 − σ, σ] for one channel. */
function probabilities(model: DeepLabV3Plus, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => {
    const logits = model.apply(x, { training: false });
    if (model.headChannels > 1) return tf.softmax(logits).dataSync() as Float32Array;
    const p = tf.sigmoid(logits);
    return tf.concat([tf.sub(1, p), p], 3).dataSync() as Float32Array;
  });
}

/** Train-mode passes so that the batch-norm moving statistics are not the trivial 0/1. */
function warmStatistics(model: DeepLabV3Plus, h: number, w: number): void {
  for (let i = 0; i < 3; i++) tf.tidy(() => model.apply(tf.randomNormal([2, h, w, model.inputChannels], 0.3, 1.2, 'float32', 100 + i) as tf.Tensor4D, { training: true }));
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

describe('exported graph model = training model', () => {
  const cases: Array<[string, SegConfig]> = [
    ['road: 1-channel head → [1 − σ, σ], ASPP + decoder, OS16, 36x40 (padded to 48)', config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true, EVAL_CROP_SIZE: '(40, 36)' })],
    ['VOC: 21-class softmax, OS8 (atrous), plain convs, group norm', config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.OUTPUT_STRIDE': 8, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true, 'MODEL.DEEPLAB.ASPP_WITH_SEP_CONV': false, 'MODEL.DEEPLAB.DECODER_USE_SEP_CONV': false, 'MODEL.DEFAULT_NORM_TYPE': 'gn', 'MODEL.DEFAULT_GROUP_NUMBER': 4, 'MODEL.DEEPLAB.ENCODER.ASPP_CONVS_FILTERS': 32, 'MODEL.DEEPLAB.DECODER.CONV_FILTERS': 32, EVAL_CROP_SIZE: '(32, 32)' }, VOC_CONFIG)],
    ['the shipped road config as is (multiplier 1.0, ASPP and decoder off), 64x48', config({ EVAL_CROP_SIZE: '(48, 64)' })],
  ];
  for (const [what, cfg] of cases) {
    test(what, async () => {
      const model = buildModel(cfg, { seed: 5 });
      const [w, h] = cfg.EVAL_CROP_SIZE as [number, number];
      warmStatistics(model, h, w);
      const dir = path.join(tmp.dir, `export-${cases.findIndex((c) => c[0] === what)}`);
      const result = exportModel(model, cfg, dir);
      const k = model.headChannels === 1 ? 2 : model.headChannels;
      assert.deepEqual(result.inputShape, [-1, h, w, 3]);
      assert.deepEqual(result.outputShape, [-1, h, w, k]);
      assert.deepEqual(fs.readdirSync(dir).sort(), [...result.files].sort());
      assert.ok(result.files.includes('deploy.yaml') && result.files.includes('deploy.json') && result.files.includes('model.json'));
      const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 21) as tf.Tensor4D;
      const { probs, info } = await runExported(dir, x);
      assert.deepEqual(info.inputs, [{ name: 'image', shape: [-1, h, w, 3] }]);
      assert.deepEqual(info.outputShape, [2, h, w, k]);
      const expected = probabilities(model, x);
      assert.equal(probs.length, expected.length);
      assert.ok(maxDiff(probs, expected) < 1e-4, `max |Δp| ${maxDiff(probs, expected)}`);
      // Probabilities: each pixel sums to 1.
      for (let i = 0; i < 50; i++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += probs[i * k + c] as number;
        assert.ok(Math.abs(s - 1) < 1e-5);
      }
      x.dispose();
      model.dispose();
    });
  }

  test('deploy.yaml and deploy.json describe the input, output and preprocessing', () => {
    const cfg = config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, EVAL_CROP_SIZE: '(40, 36)', 'DATASET.CLASS_NAMES': "['background', 'road']", MEAN: '[0.4, 0.5, 0.6]', STD: '[0.2, 0.25, 0.3]' });
    const model = buildModel(cfg);
    const dir = path.join(tmp.dir, 'deploy');
    exportModel(model, cfg, dir, { checkpoint: '/runs/road/final' });
    const d = (yaml.load(fs.readFileSync(path.join(dir, 'deploy.yaml'), 'utf8')) as { DEPLOY: Record<string, unknown> }).DEPLOY;
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'deploy.json'), 'utf8')), { DEPLOY: d });
    assert.equal(d['MODEL_FORMAT'], 'tfjs-graph-model');
    assert.equal(d['INPUT_NAME'], 'image');
    assert.deepEqual(d['INPUT_SHAPE'], [-1, 36, 40, 3]);
    assert.deepEqual(d['OUTPUT_SHAPE'], [-1, 36, 40, 2]);
    assert.deepEqual(d['EVAL_CROP_SIZE'], [40, 36]);
    assert.deepEqual(d['MEAN'], [0.4, 0.5, 0.6]);
    assert.deepEqual(d['STD'], [0.2, 0.25, 0.3]);
    assert.equal(d['IMAGE_TYPE'], 'rgb');
    assert.equal(d['CHANNELS'], 3);
    assert.equal(d['NUM_CLASSES'], 2);
    assert.deepEqual(d['CLASS_NAMES'], ['background', 'road']);
    assert.equal(d['CHECKPOINT'], '/runs/road/final');
    assert.match(String(d['OUTPUT']), /1 - sigmoid/);
    model.dispose();
  });
});

describe('seg export (CLI)', () => {
  const overrides = ['MODEL.DEEPLAB.DEPTH_MULTIPLIER', '0.25', 'EVAL_CROP_SIZE', '(48, 32)'];
  const cfg = (): SegConfig => config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, EVAL_CROP_SIZE: '(48, 32)' });

  test('exports --model to FREEZE.SAVE_DIR; a fresh tfjs reproduces the checkpoint model’s predictions', async () => {
    const model = buildModel(cfg(), { seed: 9 });
    warmStatistics(model, 32, 48);
    const ckpt = path.join(tmp.dir, 'run', 'final');
    saveCheckpoint(ckpt, { weights: model.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: cfg() });
    const out = path.join(tmp.dir, 'freeze');
    const r = await runSeg(['export', '--cfg', ROAD_CONFIG, '--model', ckpt, '--backend', 'cpu', ...overrides, 'FREEZE.SAVE_DIR', out], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend: cpu/);
    assert.match(r.stdout, /exported to freeze: model\.json \(tfjs graph model, input \[N, 32, 48, 3\], output \[N, 32, 48, 2\] probabilities\)/);
    const x = tf.randomNormal([1, 32, 48, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const { probs } = await runExported(out, x);
    assert.ok(maxDiff(probs, probabilities(model, x)) < 1e-4);
    x.dispose();
    model.dispose();
  });

  test('a missing checkpoint exits 3; a checkpoint of another architecture exits 2 naming the weight; no checkpoint configured exits 2', async () => {
    const missing = await runSeg(['export', '--cfg', ROAD_CONFIG, '--model', path.join(tmp.dir, 'nope'), '--backend', 'cpu', ...overrides, 'FREEZE.SAVE_DIR', path.join(tmp.dir, 'f2')], { cwd: tmp.dir });
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /seg: data error: checkpoint .*nope not found/);

    const aspp = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true }));
    const ckpt = path.join(tmp.dir, 'aspp', 'final');
    saveCheckpoint(ckpt, { weights: aspp.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: cfg() });
    aspp.dispose();
    const mismatch = await runSeg(['export', '--cfg', ROAD_CONFIG, '--model', ckpt, '--backend', 'cpu', ...overrides, 'FREEZE.SAVE_DIR', path.join(tmp.dir, 'f3')], { cwd: tmp.dir });
    assert.equal(mismatch.code, 2, mismatch.stderr);
    assert.match(mismatch.stderr, /seg: config error: weight logit\/kernel has shape \[1, 1, 256, 1\] in checkpoint .* but \[1, 1, 80, 1\] in the model built from the config/);
    assert.ok(!fs.existsSync(path.join(tmp.dir, 'f3')));

    const none = await runSeg(['export', '--cfg', ROAD_CONFIG, '--backend', 'cpu', 'TEST.TEST_MODEL', "''"], { cwd: tmp.dir });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /nothing to export: TEST\.TEST_MODEL is empty/);
  });
});
