/**
 * Checkpoints: bit-exact round trip of weights and optimizer state, the on-disk format (readable by
 * tfjs's own decoder), strict restore with a message naming the first mismatching weight, and
 * clear errors for missing, incomplete and corrupt checkpoints.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as yaml from 'js-yaml';
import { initBackend } from '../../src/backend/index.js';
import { loadCheckpoint, restoreWeights, saveCheckpoint, checkpointExists, type NamedTensor } from '../../src/checkpoint/index.js';
import { buildModel, type DeepLabV3Plus } from '../../src/models/build.js';
import { SegError } from '../../src/util/errors.js';
import { tmpDir } from '../helpers/cli.js';
import { config, VOC_CONFIG } from '../models/helpers.js';

const tmp = tmpDir('seg-ckpt-');
before(async () => {
  await initBackend({ backend: 'cpu' });
});
after(() => tmp.cleanup());

const small = (extra: Record<string, string | number | boolean> = {}) => config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true, ...extra });

/** Give every weight distinct random values (so a restore cannot pass by accident). */
function scramble(model: DeepLabV3Plus, seed: number): void {
  model.weights.forEach((w, i) => w.variable.assign(tf.tidy(() => tf.randomNormal(w.variable.shape, 0, 1, 'float32', seed * 1000 + i))));
}

function slotsFor(model: DeepLabV3Plus): NamedTensor[] {
  return model.weights
    .filter((w) => w.trainable)
    .flatMap((w, i) => [
      { name: `${w.name}/m`, tensor: tf.randomNormal(w.variable.shape, 0, 1, 'float32', 7000 + i) },
      { name: `${w.name}/v`, tensor: tf.randomUniform(w.variable.shape, 0, 1, 'float32', 9000 + i) },
    ]);
}

const bits = (t: tf.Tensor): Uint8Array => {
  const v = t.dataSync() as Float32Array | Int32Array;
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
};

describe('round trip', () => {
  test('weights, optimizer slots, state and config come back bit-exactly', () => {
    const cfg = small();
    const model = buildModel(cfg, { seed: 1 });
    scramble(model, 1);
    const slots = [...slotsFor(model), { name: 'step_counter', tensor: tf.tensor1d([3, -7, 2 ** 30], 'int32') }];
    const state = { epoch: 3, epochStep: 17, globalStep: 77, rng: [1, 2, 3, 4294967295], best: { metric: 'miou', value: 0.4321, epoch: 2 }, reason: 'snapshot' };
    const dir = path.join(tmp.dir, 'roundtrip', '3');
    saveCheckpoint(dir, { weights: model.weights.map((w) => ({ name: w.name, tensor: w.variable })), optimizer: { name: 'adam', config: { momentum: 0.9, momentum2: 0.999 }, slots }, state, config: cfg });

    const before = tf.memory().numTensors;
    loadCheckpoint(dir).dispose();
    assert.equal(tf.memory().numTensors, before, 'load + dispose frees every tensor');
    const ck = loadCheckpoint(dir);
    assert.equal(ck.dir, path.resolve(dir));
    assert.deepEqual(ck.weights.map((w) => w.name), model.weights.map((w) => w.name));
    ck.weights.forEach((w, i) => assert.deepEqual(bits(w.tensor), bits(model.weights[i]!.variable), w.name));
    assert.equal(ck.optimizer?.name, 'adam');
    assert.deepEqual(ck.optimizer?.config, { momentum: 0.9, momentum2: 0.999 });
    assert.deepEqual(ck.optimizer?.slots.map((s) => s.name), slots.map((s) => s.name));
    ck.optimizer?.slots.forEach((s, i) => {
      assert.equal(s.tensor.dtype, slots[i]!.tensor.dtype);
      assert.deepEqual(bits(s.tensor), bits(slots[i]!.tensor), s.name);
    });
    assert.deepEqual(ck.state, state);
    assert.deepEqual(ck.config, yaml.load(yaml.dump(cfg)) as unknown);

    // Restore into a differently initialised model: identical weights and outputs.
    const other = buildModel(cfg, { seed: 2 });
    restoreWeights(other, ck);
    other.weights.forEach((w, i) => assert.deepEqual(bits(w.variable), bits(model.weights[i]!.variable), w.name));
    tf.tidy(() => {
      const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      assert.deepEqual(bits(other.apply(x, { training: false })), bits(model.apply(x, { training: false })));
    });
    ck.dispose();
    tf.dispose(slots.map((s) => s.tensor));
    model.dispose();
    other.dispose();
  });

  test('on disk: tfjs weights manifest + shards that tf.io.decodeWeights reads, a checksummed index, config.yaml', () => {
    const cfg = small();
    const model = buildModel(cfg, { seed: 3 });
    const dir = path.join(tmp.dir, 'format');
    saveCheckpoint(dir, { weights: model.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: { epoch: 1 }, config: cfg });
    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, ['checkpoint.json', 'config.yaml', 'group1-shard1of1.bin', 'model.json', 'state.json']);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { format: string; weightsManifest: tf.io.WeightsManifestConfig };
    assert.equal(manifest.format, 'seg-weights');
    const group = manifest.weightsManifest[0]!;
    const buf = fs.readFileSync(path.join(dir, group.paths[0]!));
    const decoded = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer, group.weights);
    for (const w of model.weights) assert.deepEqual(bits(decoded[w.name]!), bits(w.variable), w.name);
    tf.dispose(Object.values(decoded));
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')) as { format: string; files: Record<string, { bytes: number; sha256: string }> };
    assert.equal(index.format, 'seg-checkpoint');
    assert.deepEqual(Object.keys(index.files).sort(), ['config.yaml', 'group1-shard1of1.bin', 'model.json', 'state.json']);
    assert.equal(index.files['group1-shard1of1.bin']!.bytes, model.parameterCount() * 4);
    assert.match(fs.readFileSync(path.join(dir, 'config.yaml'), 'utf8'), /DEPTH_MULTIPLIER: 0\.25/);
    model.dispose();
  });

  test('weights over 4 MiB are split into several shards; saving again replaces the checkpoint without leftovers', () => {
    const dir = path.join(tmp.dir, 'shards', 'final');
    const big = tf.randomNormal([3, 1024, 1024], 0, 1, 'float32', 1); // 12 MiB
    const cfg = small();
    saveCheckpoint(dir, { weights: [{ name: 'big', tensor: big }, { name: 'small', tensor: tf.scalar(5) }], state: { v: 1 }, config: cfg });
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).sort(),
      // 12 MiB + 4 bytes: three full 4 MiB shards and one of 4 bytes
      ['group1-shard1of4.bin', 'group1-shard2of4.bin', 'group1-shard3of4.bin', 'group1-shard4of4.bin'],
    );
    assert.equal(fs.statSync(path.join(dir, 'group1-shard4of4.bin')).size, 4);
    const ck = loadCheckpoint(dir);
    assert.deepEqual(bits(ck.weights[0]!.tensor), bits(big));
    assert.equal(ck.weights[1]!.tensor.dataSync()[0], 5);
    ck.dispose();
    saveCheckpoint(dir, { weights: [{ name: 'small', tensor: tf.scalar(6) }], state: { v: 2 }, config: cfg });
    const again = loadCheckpoint(dir);
    assert.deepEqual(again.state, { v: 2 });
    assert.equal(again.weights.length, 1);
    again.dispose();
    assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['final']);
    big.dispose();
  });
});

describe('strict restore', () => {
  test('a different head names the first mismatching weight and its shapes (config error); nothing is assigned', () => {
    const voc = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 }, VOC_CONFIG), { seed: 1 });
    const dir = path.join(tmp.dir, 'voc');
    saveCheckpoint(dir, { weights: voc.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: config({}, VOC_CONFIG) });
    const road = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 }), { seed: 2 });
    const before = bits(road.weights[0]!.variable);
    const ck = loadCheckpoint(dir);
    assert.throws(
      () => restoreWeights(road, ck),
      (e: unknown) => e instanceof SegError && e.kind === 'config' && e.exitCode === 2 && e.message.includes('weight logit/kernel has shape [1, 1, 80, 21]') && e.message.includes('but [1, 1, 80, 1]'),
    );
    assert.deepEqual(bits(road.weights[0]!.variable), before, 'nothing assigned');
    ck.dispose();
    voc.dispose();
    road.dispose();
  });

  test('missing and extra weights are named', () => {
    const plain = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25 }));
    const withAspp = buildModel(small());
    const dirPlain = path.join(tmp.dir, 'plain');
    const dirAspp = path.join(tmp.dir, 'aspp');
    saveCheckpoint(dirPlain, { weights: plain.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: config() });
    saveCheckpoint(dirAspp, { weights: withAspp.weights.map((w) => ({ name: w.name, tensor: w.variable })), state: {}, config: small() });
    const a = loadCheckpoint(dirPlain);
    assert.throws(() => restoreWeights(withAspp, a), /checkpoint .*plain has no weight encoder\/image_pool\/kernel, which the model built from the config has/);
    a.dispose();
    const b = loadCheckpoint(dirAspp);
    assert.throws(() => restoreWeights(plain, b), /weight logit\/kernel has shape \[1, 1, 256, 1\] .* but \[1, 1, 80, 1\]/);
    // With the head matching, the first extra weight is named.
    const noHead = b.weights.filter((w) => !w.name.startsWith('logit/'));
    const plainHead = plain.weights.filter((w) => w.name.startsWith('logit/')).map((w) => ({ name: w.name, tensor: w.variable }));
    assert.throws(() => restoreWeights(plain, [...noHead, ...plainHead]), /has a weight encoder\/image_pool\/kernel that the model built from the config does not have/);
    b.dispose();
    plain.dispose();
    withAspp.dispose();
  });
});

describe('missing and corrupt checkpoints', () => {
  const cfg = small();
  const make = (name: string): string => {
    const dir = path.join(tmp.dir, 'corrupt', name);
    saveCheckpoint(dir, { weights: [{ name: 'w', tensor: tf.range(0, 1000, 1, 'float32') }], state: { ok: true }, config: cfg });
    return dir;
  };
  const isData = (re: RegExp) => (e: unknown) => e instanceof SegError && e.kind === 'data' && e.exitCode === 3 && re.test(e.message);

  test('a missing folder is a data error', () => {
    assert.throws(() => loadCheckpoint(path.join(tmp.dir, 'nope')), isData(/checkpoint .*nope not found/));
    assert.equal(checkpointExists(path.join(tmp.dir, 'nope')), false);
  });

  test('a truncated shard is named', () => {
    const dir = make('truncated');
    const shard = path.join(dir, 'group1-shard1of1.bin');
    fs.truncateSync(shard, 1000);
    assert.throws(() => loadCheckpoint(dir), isData(/corrupt: group1-shard1of1\.bin does not match its checksum \(1000 bytes, expected 4000\)/));
  });

  test('a changed byte is caught by the checksum', () => {
    const dir = make('flipped');
    const shard = path.join(dir, 'group1-shard1of1.bin');
    const buf = fs.readFileSync(shard);
    buf[100] = (buf[100] ?? 0) ^ 0xff;
    fs.writeFileSync(shard, buf);
    assert.throws(() => loadCheckpoint(dir), isData(/group1-shard1of1\.bin does not match its checksum/));
  });

  test('a deleted file and a folder without index are explained', () => {
    const dir = make('deleted');
    fs.rmSync(path.join(dir, 'state.json'));
    assert.throws(() => loadCheckpoint(dir), isData(/incomplete: state\.json is missing/));
    fs.rmSync(path.join(dir, 'checkpoint.json'));
    assert.throws(() => loadCheckpoint(dir), isData(/is not a seg checkpoint \(no checkpoint\.json\)/));
  });

  test('a corrupt index is a data error naming it', () => {
    const dir = make('badindex');
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), '{"format": "seg-checkpoint", "files": ');
    assert.throws(() => loadCheckpoint(dir), isData(/checkpoint index .*checkpoint\.json is not valid JSON/));
  });
});
