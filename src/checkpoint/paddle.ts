/**
 * pdseg's pretrained archives: PaddlePaddle parameter folders (`fluid.io.save_persistables`), one
 * file per parameter named by its path (`conv1_1_weights`, `encoder/aspp0/weights`, ...), read and
 * mapped onto seg's weight names. docs/model.md describes the format and the mapping.
 *
 * A parameter file is a LoDTensor as Paddle's SerializeToStream writes it (little-endian):
 *   uint32 version (0) · uint64 LoD levels, each a uint64 byte count and that many bytes ·
 *   uint32 tensor version (0) · int32 n · n bytes of a protobuf VarType.TensorDesc
 *   {data_type (field 1, enum: FP32 = 5, FP64 = 6, ...), dims (field 2, repeated int64)} ·
 *   the values, row-major, numel × the type's size.
 *
 * Names (pdseg's mobilenet_v2.py and deeplab.py, with model_libs's scopes):
 *   conv1_1_*                      → backbone/stem
 *   conv<g>_<k>_{expand,dwise,linear}_* → backbone/block_<i>/{expand,depthwise,project}, i counting
 *                                    the 17 inverted residual blocks in order (conv2_1 = block 0)
 *   <name>_weights, _bn_scale, _bn_offset, _bn_mean, _bn_variance → kernel, bn/gamma, bn/beta,
 *                                    bn/moving_mean, bn/moving_variance
 *   encoder/{aspp0,concat}/…, encoder/aspp<k>/{depthwise,pointwise}/…, decoder/concat/… (→
 *   decoder/shortcut), decoder/separable_conv<k>/… (→ decoder/conv<k>): weights → kernel,
 *   BatchNorm/{gamma,beta,moving_mean,moving_variance} → bn/…
 *   encoder/image_pool/weights + BatchNorm/… → image_pool/{kernel,bias}: seg's image-pooling branch
 *                                    has no norm, so pdseg's inference-mode BN is folded into the
 *                                    1×1 conv (W·γ/√(var+ε), β − μ·γ/√(var+ε))
 *   logit/weights, logit/biases    → logit/kernel, logit/bias
 * Convolution kernels go from Paddle's [out, in, kh, kw] to tfjs's [kh, kw, in, out] (depthwise:
 * [C, 1, kh, kw] to [kh, kw, C, 1]). What seg does not build (pdseg's block-0 expand conv, conv9,
 * fc10, a decoder or backbone of another architecture) is reported as unused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { dataError } from '../util/errors.js';
import type { NamedTensor } from './weights_io.js';

interface PaddleTensor {
  shape: number[];
  values: Float32Array;
}

/** Paddle's VarType data types seg reads, with their sizes. */
const TYPES: Readonly<Record<number, { name: string; bytes: number }>> = { 5: { name: 'FP32', bytes: 4 }, 6: { name: 'FP64', bytes: 8 } };

function varint(buf: Buffer, pos: { o: number }, end: number): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos.o >= end) throw new Error('truncated varint');
    const b = buf[pos.o++] as number;
    v += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) return v;
  }
}

/** The TensorDesc protobuf: data_type and dims (packed or not). */
function tensorDesc(buf: Buffer, start: number, end: number): { type: number; dims: number[] } {
  const pos = { o: start };
  let type = -1;
  const dims: number[] = [];
  while (pos.o < end) {
    const key = varint(buf, pos, end);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 1 && wire === 0) type = varint(buf, pos, end);
    else if (field === 2 && wire === 0) dims.push(varint(buf, pos, end));
    else if (field === 2 && wire === 2) {
      const stop = varint(buf, pos, end) + pos.o;
      while (pos.o < stop) dims.push(varint(buf, pos, end));
    } else throw new Error(`unexpected field ${field} (wire type ${wire}) in its TensorDesc`);
  }
  return { type, dims };
}

/** One parameter file (see the module comment). */
export function readPaddleTensor(buf: Buffer, file: string): PaddleTensor {
  const bad = (why: string): never => {
    throw dataError(`${file} is not a PaddlePaddle parameter file: ${why}`, { file, hint: 'expected a folder saved by fluid.io.save_persistables (pdseg pretrained_model/)' });
  };
  try {
    let o = 0;
    if (buf.readUInt32LE(o) !== 0) bad(`LoDTensor version ${buf.readUInt32LE(o)}`);
    o += 4;
    const levels = Number(buf.readBigUInt64LE(o));
    o += 8;
    for (let l = 0; l < levels; l++) o += 8 + Number(buf.readBigUInt64LE(o));
    if (buf.readUInt32LE(o) !== 0) bad(`tensor version ${buf.readUInt32LE(o)}`);
    o += 4;
    const n = buf.readInt32LE(o);
    o += 4;
    const { type, dims } = tensorDesc(buf, o, o + n);
    o += n;
    const t = TYPES[type] ?? bad(`data type ${type} (FP32 or FP64 expected)`);
    const numel = dims.reduce((a, b) => a * b, 1);
    if (buf.length !== o + numel * t.bytes) bad(`${buf.length - o} value bytes for ${dims.join('×')} ${t.name}`);
    const values = new Float32Array(numel);
    for (let i = 0; i < numel; i++) values[i] = t.bytes === 4 ? buf.readFloatLE(o + 4 * i) : buf.readDoubleLE(o + 8 * i);
    return { shape: dims, values };
  } catch (e) {
    if (e instanceof RangeError) bad('truncated');
    throw e;
  }
}

/** Whether `dir` holds a file named like a Paddle parameter at its top. */
export function isPaddleParamDir(dir: string): boolean {
  return fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isFile() && /_(weights|scale|offset|mean|variance)$|^fc\d+_/.test(e.name));
}

/** Every parameter of a folder, named by its path below `dir` (with '/'). */
export function readPaddleParams(dir: string): Map<string, PaddleTensor> {
  const out = new Map<string, PaddleTensor>();
  for (const rel of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const file = path.join(dir, rel);
    if (!fs.statSync(file).isFile() || path.basename(rel).startsWith('.')) continue;
    out.set(rel.split(path.sep).join('/'), readPaddleTensor(fs.readFileSync(file), file));
  }
  return out;
}

/** The 17 inverted residual blocks of MobileNetV2 as pdseg names them: conv<group>_<k>. */
const PDSEG_BLOCKS: readonly string[] = [
  [2, 1],
  [3, 2],
  [4, 3],
  [5, 4],
  [6, 3],
  [7, 3],
  [8, 1],
].flatMap(([g, n]) => Array.from({ length: n as number }, (_, k) => `conv${g}_${k + 1}`));

const BN_SUFFIX: Readonly<Record<string, string>> = { scale: 'gamma', offset: 'beta', mean: 'moving_mean', variance: 'moving_variance' };
const BN_NAMES = ['gamma', 'beta', 'moving_mean', 'moving_variance'];
const PARTS: Readonly<Record<string, string>> = { expand: 'expand', dwise: 'depthwise', linear: 'project' };

/** seg's name for a pdseg parameter name (the image-pool BN aside), or undefined when seg has no such weight. */
export function paddleToSegName(name: string): string | undefined {
  let m = /^conv1_1_(weights|bn_(scale|offset|mean|variance))$/.exec(name);
  if (m) return m[2] ? `backbone/stem/bn/${BN_SUFFIX[m[2]]}` : 'backbone/stem/kernel';
  m = /^(conv\d+_\d+)_(expand|dwise|linear)_(weights|bn_(scale|offset|mean|variance))$/.exec(name);
  if (m) {
    const block = PDSEG_BLOCKS.indexOf(m[1] as string);
    if (block < 0 || (block === 0 && m[2] === 'expand')) return undefined; // seg's first block has no expand conv
    const base = `backbone/block_${block}/${PARTS[m[2] as string]}`;
    return m[4] ? `${base}/bn/${BN_SUFFIX[m[4]]}` : `${base}/kernel`;
  }
  if (name === 'logit/weights') return 'logit/kernel';
  if (name === 'logit/biases') return 'logit/bias';
  m = /^(encoder\/(?:aspp0|concat|aspp[123]\/(?:depthwise|pointwise))|decoder\/(?:concat|separable_conv[12]\/(?:depthwise|pointwise)))\/(weights|BatchNorm\/(gamma|beta|moving_mean|moving_variance))$/.exec(name);
  if (!m) return undefined;
  const scope = (m[1] as string).replace(/^decoder\/concat$/, 'decoder/shortcut').replace(/^decoder\/separable_conv/, 'decoder/conv');
  return m[3] ? `${scope}/bn/${m[3]}` : `${scope}/kernel`;
}

/** A Paddle conv kernel [out, in, kh, kw] (depthwise: [C, 1, kh, kw]) as tfjs's [kh, kw, in, out] ([kh, kw, C, 1]). */
function toTfjsKernel(t: PaddleTensor, depthwise: boolean): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.tensor4d(t.values, t.shape as [number, number, number, number]);
    return depthwise ? tf.transpose(x, [2, 3, 0, 1]) : tf.transpose(x, [2, 3, 1, 0]);
  });
}

/** pdseg's image-pooling 1×1 conv + inference-mode BN as one conv with a bias. */
function foldImagePool(params: ReadonlyMap<string, PaddleTensor>, epsilon: number): NamedTensor[] {
  const w = params.get('encoder/image_pool/weights');
  const [gamma, beta, mean, variance] = BN_NAMES.map((k) => params.get(`encoder/image_pool/BatchNorm/${k}`));
  if (!w || !gamma || !beta || !mean || !variance) return [];
  const out = w.shape[0] as number;
  const scale = Float32Array.from({ length: out }, (_, c) => (gamma.values[c] as number) / Math.sqrt((variance.values[c] as number) + epsilon));
  const bias = Float32Array.from({ length: out }, (_, c) => (beta.values[c] as number) - (mean.values[c] as number) * (scale[c] as number));
  const perOut = w.values.length / out;
  const scaled = Float32Array.from(w.values, (v, i) => v * (scale[Math.floor(i / perOut)] as number));
  return [
    { name: 'encoder/image_pool/kernel', tensor: toTfjsKernel({ shape: w.shape, values: scaled }, false) },
    { name: 'encoder/image_pool/bias', tensor: tf.tensor1d(bias) },
  ];
}

/** pdseg parameters as seg weights (see the module comment); `epsilon`: MODEL.DEFAULT_EPSILON for the folded BN. */
export function paddleToSegWeights(params: ReadonlyMap<string, PaddleTensor>, epsilon = 1e-5): { weights: NamedTensor[]; unused: string[] } {
  const weights = foldImagePool(params, epsilon);
  const used = new Set(weights.length > 0 ? ['encoder/image_pool/weights', ...BN_NAMES.map((k) => `encoder/image_pool/BatchNorm/${k}`)] : []);
  const unused: string[] = [];
  for (const [name, t] of params) {
    if (used.has(name)) continue;
    const seg = paddleToSegName(name);
    if (seg === undefined) {
      unused.push(name);
      continue;
    }
    const depthwise = /\/depthwise\/kernel$/.test(seg);
    const tensor = seg.endsWith('/kernel') && t.shape.length === 4 ? toTfjsKernel(t, depthwise) : tf.tensor(t.values, t.shape);
    weights.push({ name: seg, tensor });
  }
  return { weights, unused };
}
