/**
 * pdseg's pretrained archives: folders of PaddlePaddle parameter files, written here from Paddle's
 * serialisation (LoDTensor: version, LoD, tensor version, TensorDesc protobuf, values) with the
 * parameter names and shapes pdseg's mobilenet_v2.py and deeplab.py give (built from their layer
 * lists, not from seg's names). Every seg weight must receive the value of its pdseg parameter,
 * transposed to tfjs's layout; pdseg's image-pooling BN is folded into seg's conv and bias; what seg
 * does not build is reported unused. The download goes through a 127.0.0.1 server, and training
 * starts from the converted weights.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tar from 'tar';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { loadPretrained } from '../../src/checkpoint/index.js';
import { readPaddleTensor } from '../../src/checkpoint/paddle.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel } from '../../src/models/build.js';
import { Rng } from '../../src/util/rng.js';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';

const tmp = tmpDir('seg-paddle-');
after(() => tmp.cleanup());
before(async () => {
  await initBackend({ backend: 'cpu' });
});

/** Paddle's LoDTensor serialisation of a float32 tensor (TensorDesc dims not packed, as proto2 writes them). */
function paddleBytes(shape: readonly number[], values: Float32Array, lod: number[][] = []): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
    return [...out, n];
  };
  const desc = Buffer.from([0x08, 5, ...shape.flatMap((d) => [0x10, ...varint(d)])]);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0, 0);
  head.writeBigUInt64LE(BigInt(lod.length), 4);
  const lodBytes = lod.map((level) => {
    const b = Buffer.alloc(8 + 8 * level.length);
    b.writeBigUInt64LE(BigInt(8 * level.length), 0);
    level.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 + 8 * i));
    return b;
  });
  const tensorHead = Buffer.alloc(8);
  tensorHead.writeUInt32LE(0, 0);
  tensorHead.writeInt32LE(desc.length, 4);
  return Buffer.concat([head, ...lodBytes, tensorHead, desc, Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
}

interface Param {
  shape: number[];
  values: Float32Array;
}

interface Variant {
  scale: number;
  aspp: boolean;
  decoder: boolean;
}

/**
 * pdseg's DeepLabv3+/MobileNetV2 parameters (mobilenet_v2.py, deeplab.py) with K classes, plus
 * conv9/fc10 of an ImageNet archive. Widths as pdseg computes them: int(c·scale) per group, the
 * expansion round(in·t); the decoder's shortcut is conv3_2's expansion; without ASPP the decoder
 * and the logit read the backbone's last channels.
 */
function pdsegParams(K: number, seed: number, v: Variant = { scale: 1, aspp: true, decoder: true }): Map<string, Param> {
  const rng = new Rng(seed);
  const out = new Map<string, Param>();
  const add = (name: string, shape: number[]): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape, values: Float32Array.from({ length: n }, () => (name.endsWith('variance') ? rng.uniform(0.5, 2) : rng.uniform(-1, 1))) });
  };
  const convBn = (name: string, shape: number[]): void => {
    add(`${name}_weights`, shape);
    for (const s of ['scale', 'offset', 'mean', 'variance']) add(`${name}_bn_${s}`, [shape[0] as number]);
  };
  const scoped = (scope: string, shape: number[]): void => {
    add(`${scope}/weights`, shape);
    for (const s of ['gamma', 'beta', 'moving_mean', 'moving_variance']) add(`${scope}/BatchNorm/${s}`, [shape[0] as number]);
  };
  let inC = Math.trunc(32 * v.scale);
  convBn('conv1_1', [inC, 3, 3, 3]);
  let shortcut = 0;
  const groups: Array<[number, number, number]> = [[1, 16, 1], [6, 24, 2], [6, 32, 3], [6, 64, 4], [6, 96, 3], [6, 160, 3], [6, 320, 1]];
  groups.forEach(([t, c, n], g) => {
    for (let k = 1; k <= n; k++) {
      const e = Math.round(inC * t);
      const name = `conv${g + 2}_${k}`;
      convBn(`${name}_expand`, [e, inC, 1, 1]);
      convBn(`${name}_dwise`, [e, 1, 3, 3]);
      convBn(`${name}_linear`, [Math.trunc(c * v.scale), e, 1, 1]);
      if (name === 'conv3_2') shortcut = e;
      inC = Math.trunc(c * v.scale);
    }
  });
  convBn('conv9', [1280, inC, 1, 1]);
  add('fc10_weights', [1280, 1000]);
  add('fc10_offset', [1000]);
  let features = inC;
  if (v.aspp) {
    scoped('encoder/image_pool', [256, inC, 1, 1]);
    scoped('encoder/aspp0', [256, inC, 1, 1]);
    for (const k of [1, 2, 3]) {
      scoped(`encoder/aspp${k}/depthwise`, [inC, 1, 3, 3]);
      scoped(`encoder/aspp${k}/pointwise`, [256, inC, 1, 1]);
    }
    scoped('encoder/concat', [256, 1280, 1, 1]);
    features = 256;
  }
  if (v.decoder) {
    scoped('decoder/concat', [48, shortcut, 1, 1]);
    scoped('decoder/separable_conv1/depthwise', [features + 48, 1, 3, 3]);
    scoped('decoder/separable_conv1/pointwise', [256, features + 48, 1, 1]);
    scoped('decoder/separable_conv2/depthwise', [256, 1, 3, 3]);
    scoped('decoder/separable_conv2/pointwise', [256, 256, 1, 1]);
    features = 256;
  }
  add('logit/weights', [K, features, 1, 1]);
  add('logit/biases', [K]);
  return out;
}

function writeFolder(dir: string, params: ReadonlyMap<string, Param>): void {
  for (const [name, p] of params) {
    const file = path.join(dir, ...name.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, paddleBytes(p.shape, p.values));
  }
}

const K = 3;
const params = pdsegParams(K, 7);
const cfg = ConfigSchema.parse({ DATASET: { NUM_CLASSES: K }, MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 1.0, ENCODER_WITH_ASPP: true, ENABLE_DECODER: true } } });

test('a Paddle parameter file is read as Paddle writes it: LoD levels skipped, truncation and other types refused', () => {
  const v = Float32Array.from([1, -2, 3.5, 4, 5, 6]);
  assert.deepEqual(readPaddleTensor(paddleBytes([2, 3], v, [[0, 1, 2]]), 'x'), { shape: [2, 3], values: v });
  assert.throws(() => readPaddleTensor(paddleBytes([2, 3], v).subarray(0, 40), 'x'), /x is not a PaddlePaddle parameter file: .*(truncated|value bytes)/);
  const int64 = paddleBytes([6], v);
  int64[4 + 8 + 4 + 4 + 1] = 3; // data_type INT64
  assert.throws(() => readPaddleTensor(int64, 'x'), /data type 3 \(FP32 or FP64 expected\)/);
});

test("seg pretrained convert: every weight of seg's DeepLabv3+ ×1.0 gets its pdseg parameter; image-pool BN folded; the rest reported unused", async () => {
  const src = path.join(tmp.dir, 'deeplabv3p_mobilenetv2-1-0_bn_coco');
  writeFolder(src, params);
  const root = path.join(tmp.dir, 'pretrained');
  const r = await runSeg(['pretrained', 'convert', src, '--dir', root, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { weights: number; unused: string[]; format: string; dir: string };
  assert.equal(res.format, 'paddle');
  assert.deepEqual(res.unused.sort(), ['conv2_1_expand_bn_mean', 'conv2_1_expand_bn_offset', 'conv2_1_expand_bn_scale', 'conv2_1_expand_bn_variance', 'conv2_1_expand_weights', 'conv9_bn_mean', 'conv9_bn_offset', 'conv9_bn_scale', 'conv9_bn_variance', 'conv9_weights', 'fc10_offset', 'fc10_weights']);

  const model = buildModel(cfg, { seed: 1 });
  try {
    const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const before = model.apply(x, { training: false });
    const report = loadPretrained(model, res.dir);
    assert.equal(report.loaded.length, report.total, `every weight loaded: skipped ${JSON.stringify(report.skipped.map((s) => s.name))}`);
    assert.equal(res.weights, report.total);

    const value = (name: string): tf.Tensor => model.weights.find((w) => w.name === name)!.variable;
    const same = (segName: string, expected: tf.Tensor): void => {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(value(segName), expected))).dataSync()[0] as number);
      assert.ok(d < 1e-6, `${segName}: ${d}`);
      expected.dispose();
    };
    const p = (name: string): tf.Tensor4D => tf.tensor4d(params.get(name)!.values, params.get(name)!.shape as [number, number, number, number]);
    same('backbone/stem/kernel', tf.transpose(p('conv1_1_weights'), [2, 3, 1, 0]));
    same('backbone/stem/bn/gamma', tf.tensor1d(params.get('conv1_1_bn_scale')!.values));
    same('backbone/block_0/depthwise/kernel', tf.transpose(p('conv2_1_dwise_weights'), [2, 3, 0, 1]));
    same('backbone/block_0/project/bn/moving_variance', tf.tensor1d(params.get('conv2_1_linear_bn_variance')!.values));
    same('backbone/block_5/expand/kernel', tf.transpose(p('conv4_3_expand_weights'), [2, 3, 1, 0]));
    same('backbone/block_16/project/kernel', tf.transpose(p('conv8_1_linear_weights'), [2, 3, 1, 0]));
    same('encoder/aspp2/depthwise/kernel', tf.transpose(p('encoder/aspp2/depthwise/weights'), [2, 3, 0, 1]));
    same('encoder/concat/bn/moving_mean', tf.tensor1d(params.get('encoder/concat/BatchNorm/moving_mean')!.values));
    same('decoder/shortcut/kernel', tf.transpose(p('decoder/concat/weights'), [2, 3, 1, 0]));
    same('decoder/conv2/pointwise/bn/beta', tf.tensor1d(params.get('decoder/separable_conv2/pointwise/BatchNorm/beta')!.values));
    same('logit/kernel', tf.transpose(p('logit/weights'), [2, 3, 1, 0]));
    same('logit/bias', tf.tensor1d(params.get('logit/biases')!.values));

    // The image-pool branch: conv + inference BN (pdseg) = conv with folded kernel and bias (seg).
    const feat = tf.randomUniform([1, 1, 1, 320], -1, 1, 'float32', 4) as tf.Tensor4D;
    const bn = (k: string): tf.Tensor1D => tf.tensor1d(params.get(`encoder/image_pool/BatchNorm/${k}`)!.values);
    const pdsegOut = tf.tidy(() => tf.batchNorm(tf.conv2d(feat, tf.transpose(p('encoder/image_pool/weights'), [2, 3, 1, 0]) as tf.Tensor4D, 1, 'same'), bn('moving_mean'), bn('moving_variance'), bn('beta'), bn('gamma'), 1e-5));
    const segOut = tf.tidy(() => tf.add(tf.conv2d(feat, value('encoder/image_pool/kernel') as tf.Tensor4D, 1, 'same'), value('encoder/image_pool/bias')));
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(pdsegOut, segOut))).dataSync()[0] as number) < 1e-4, 'folded BN');

    const afterLoad = model.apply(x, { training: false });
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(before, afterLoad))).dataSync()[0] as number) > 1e-3, 'the output changed');
    tf.dispose([x, before, afterLoad, feat, pdsegOut, segOut]);
  } finally {
    model.dispose();
  }
});

/** Convert the archive of `v` with `seg pretrained convert` and load it into seg's model of the same variant. */
async function convertAndLoad(v: Variant): Promise<{ report: ReturnType<typeof loadPretrained>; params: Map<string, Param>; model: ReturnType<typeof buildModel> }> {
  const name = `x${v.scale}_aspp${Number(v.aspp)}_dec${Number(v.decoder)}`;
  const vParams = pdsegParams(K, 11, v);
  writeFolder(path.join(tmp.dir, 'variants', name), vParams);
  const r = await runSeg(['pretrained', 'convert', path.join(tmp.dir, 'variants', name), '--dir', path.join(tmp.dir, 'variants-out'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const dir = (JSON.parse(r.stdout) as { dir: string }).dir;
  const model = buildModel(ConfigSchema.parse({ DATASET: { NUM_CLASSES: K }, MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: v.scale, ENCODER_WITH_ASPP: v.aspp, ENABLE_DECODER: v.decoder } } }), { seed: 1 });
  return { report: loadPretrained(model, dir), params: vParams, model };
}

test('×1.0 without ASPP, without the decoder, or without both: every weight of seg\'s model gets its pdseg parameter', async () => {
  for (const v of [
    { scale: 1, aspp: false, decoder: false },
    { scale: 1, aspp: false, decoder: true },
    { scale: 1, aspp: true, decoder: false },
  ]) {
    const { report, params: vParams, model } = await convertAndLoad(v);
    try {
      assert.deepEqual(report.skipped, [], JSON.stringify(v));
      assert.equal(report.loaded.length, model.weights.length);
      const logit = model.weights.find((w) => w.name === 'logit/kernel')!.variable;
      const expected = tf.transpose(tf.tensor4d(vParams.get('logit/weights')!.values, vParams.get('logit/weights')!.shape as [number, number, number, number]), [2, 3, 1, 0]);
      assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(logit, expected))).dataSync()[0] as number) < 1e-6, `${JSON.stringify(v)}: logit kernel`);
      expected.dispose();
    } finally {
      model.dispose();
    }
  }
});

test('×0.5: pdseg rounds widths as int(c·0.5) (24 → 12) where seg rounds to multiples of 8 (→ 16): exactly the layers whose shapes differ are skipped, the rest load', async () => {
  const { report, params: vParams, model } = await convertAndLoad({ scale: 0.5, aspp: true, decoder: true });
  try {
    const bn = (prefix: string): string[] => ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((s) => `${prefix}/bn/${s}`);
    const layer = (prefix: string): string[] => [`${prefix}/kernel`, ...bn(prefix)];
    // Hand-derived: block_1 projects to 12 (pdseg) vs 16 (seg); block_2 runs at 12·6 = 72 vs 96; block_3
    // expands from 12 vs 16 (its projection BN, 16 wide in both, loads); the decoder's shortcut reads 72 vs 96.
    const expected = [
      ...layer('backbone/block_1/project'),
      ...['expand', 'depthwise', 'project'].flatMap((l) => layer(`backbone/block_2/${l}`)),
      ...layer('backbone/block_3/expand'),
      ...layer('backbone/block_3/depthwise'),
      'backbone/block_3/project/kernel',
      'decoder/shortcut/kernel',
    ];
    assert.deepEqual(report.skipped.map((s) => s.name).sort(), expected.sort());
    assert.ok(report.skipped.every((s) => s.reason === 'shape'));
    assert.equal(report.loaded.length, model.weights.length - expected.length);
    const w = model.weights.find((x) => x.name === 'backbone/block_4/expand/kernel')!.variable;
    const p = vParams.get('conv4_2_expand_weights')!;
    const e = tf.transpose(tf.tensor4d(p.values, p.shape as [number, number, number, number]), [2, 3, 1, 0]);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(w, e))).dataSync()[0] as number) < 1e-6, 'a layer of the same width loads its values');
    e.dispose();
  } finally {
    model.dispose();
  }
});

test('seg pretrained download deeplabv3p_mobilenetv2-1-0_bn_coco --url (127.0.0.1): K/T weights, then training starts from it', async () => {
  const src = path.join(tmp.dir, 'archive', 'deeplab_mobilenet_x1_0_coco');
  writeFolder(src, params);
  const tgz = path.join(tmp.dir, 'coco.tgz');
  await tar.c({ gzip: true, file: tgz, cwd: path.dirname(src), portable: true }, [path.basename(src)]);
  const body = fs.readFileSync(tgz);
  const server = http.createServer((req, res) => {
    if (req.url === '/deeplab_mobilenet_x1_0_coco.tgz') {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/deeplab_mobilenet_x1_0_coco.tgz`;
    const root = path.join(tmp.dir, 'dl');
    const d = await runSeg(['pretrained', 'download', 'deeplabv3p_mobilenetv2-1-0_bn_coco', '--url', url, '--dir', root]);
    assert.equal(d.code, 0, d.stderr);
    const n = Number(/: (\d+) weights \(pdseg's PaddlePaddle parameters mapped onto seg's names; 12 unused\)/.exec(d.stdout)?.[1]);
    assert.equal(n, buildModel(cfg).weights.length, `${d.stdout}: every weight of the ×1.0 DeepLabv3+`);

    const data = path.join(tmp.dir, 'data');
    await makeTinyDataset(data, { train: 2, val: 2, classes: K });
    const yaml = tinyConfig(data, path.join(tmp.dir, 'run'), { classes: K, aspp: true, epochs: 1 })
      .replace('DEPTH_MULTIPLIER: 0.25', 'DEPTH_MULTIPLIER: 1.0')
      .replace('TRAIN:\n', `TRAIN:\n  PRETRAINED_MODEL_DIR: "${path.join(root, 'deeplabv3p_mobilenetv2-1-0_bn_coco')}"\n`);
    const cfgFile = path.join(tmp.dir, 'train.yaml');
    fs.writeFileSync(cfgFile, yaml);
    const t = await runSeg(['train', '--cfg', cfgFile, '--backend', 'wasm', 'SOLVER.LOSS', "['softmax_loss']"], { timeoutMs: 300_000 });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stderr, new RegExp(`^${n}/${n} weights loaded from `, 'm'), 'training starts from the whole converted DeepLabv3+');
  } finally {
    server.close();
  }
});
