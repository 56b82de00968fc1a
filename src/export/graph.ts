/**
 * Tracing the model into a TensorFlow GraphDef that tfjs-converter's `tf.loadGraphModel` runs.
 *
 * `GraphOps` implements the op layer's OpSet over symbolic tensors: instead of computing, every
 * composite op appends GraphDef nodes (in the JSON form tfjs-converter writes: int64s as strings,
 * strings base64-encoded) and its constants go to the weights manifest. Running the model's own
 * `forward` with it yields the same network the trainer uses, for inference:
 *   - batch norm is folded into the preceding convolution (W·γ/√(var+ε), bias β − mean·γ/√(var+ε));
 *   - group norm becomes Reshape/Mean/SquaredDifference/Rsqrt/Mul/Add nodes;
 *   - atrous convolutions use the native `dilations` attribute (inference needs no gradient);
 *   - dropout is the identity.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Activation, ConvBiasOptions, ConvBiasParams, ConvNormActOptions, ConvNormParams, NormParams, OpSet, Shape4 } from '../ops/types.js';

/** A symbolic NHWC tensor: the name of the node producing it, and its static shape (batch −1 = any). */
export interface GraphTensor {
  readonly name: string;
  readonly shape: Shape4;
}

type AttrValue =
  | { type: string }
  | { list: { i: string[] } }
  | { s: string }
  | { b: boolean }
  | { i: string }
  | { f: number }
  | { shape: { dim: Array<{ size: string }> } }
  | { tensor: { dtype: string; tensorShape: { dim: Array<{ size: string }> } } };

export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

export interface GraphWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const ints = (v: readonly number[]): AttrValue => ({ list: { i: v.map((x) => String(x)) } });
const dims = (shape: readonly number[]): { dim: Array<{ size: string }> } => ({ dim: shape.map((d) => ({ size: String(d) })) });
const T_FLOAT: AttrValue = { type: 'DT_FLOAT' };

/** Collects nodes and constants with unique names. */
export class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  readonly weights: GraphWeight[] = [];
  private readonly used = new Set<string>();

  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  constant(base: string, data: Float32Array | Int32Array, shape: readonly number[]): string {
    const name = this.unique(base);
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    const dt = dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: dt }, value: { tensor: { dtype: dt, tensorShape: dims(shape) } } } });
    this.weights.push({ name, shape: [...shape], dtype, data });
    return name;
  }

  op(op: string, base: string, input: string[], attr: Record<string, AttrValue> = {}): string {
    const name = this.unique(base);
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  placeholder(name: string, shape: readonly number[]): string {
    this.used.add(name);
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: T_FLOAT, shape: { shape: dims(shape) } } });
    return name;
  }
}

function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

/** Per-channel scale and shift of an inference-mode batch norm, in float64 then rounded. */
function foldBatchNorm(norm: Extract<NormParams, { kind: 'bn' }>, epsilon: number): { scale: Float64Array; shift: Float32Array } {
  const gamma = values(norm.gamma);
  const beta = values(norm.beta);
  const mean = values(norm.movingMean);
  const variance = values(norm.movingVariance);
  const scale = new Float64Array(gamma.length);
  const shift = new Float32Array(gamma.length);
  for (let c = 0; c < gamma.length; c++) {
    scale[c] = (gamma[c] as number) / Math.sqrt((variance[c] as number) + epsilon);
    shift[c] = (beta[c] as number) - (mean[c] as number) * (scale[c] as number);
  }
  return { scale, shift };
}

/** Multiply the last axis of a kernel ([kh, kw, ci, co], or depthwise [kh, kw, c, 1] by channel c) by `scale`. */
function scaleKernel(kernel: Float32Array, shape: readonly number[], scale: Float64Array, depthwise: boolean): Float32Array {
  const out = new Float32Array(kernel.length);
  const [, , ci, co] = shape as [number, number, number, number];
  for (let i = 0; i < kernel.length; i++) {
    const c = depthwise ? Math.floor(i / co) % ci : i % co;
    out[i] = (kernel[i] as number) * (scale[c] as number);
  }
  return out;
}

/** The OpSet that writes graph nodes. */
export class GraphOps implements OpSet<GraphTensor> {
  private layer = 0;
  constructor(readonly g: GraphBuilder) {}

  block<R>(f: () => R): R {
    return f();
  }

  shape(x: GraphTensor): Shape4 {
    return x.shape;
  }

  private act(x: string, act: Activation, base: string): string {
    if (act === 'relu') return this.g.op('Relu', `${base}/relu`, [x], { T: T_FLOAT });
    if (act === 'relu6') return this.g.op('Relu6', `${base}/relu6`, [x], { T: T_FLOAT });
    return x;
  }

  private conv(x: GraphTensor, kernelName: string, kernelShape: readonly number[], depthwise: boolean, stride: number, dilation: number, base: string): GraphTensor {
    const node = this.g.op(depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', `${base}/${depthwise ? 'depthwise' : 'conv'}`, [x.name, kernelName], {
      T: T_FLOAT,
      strides: ints([1, stride, stride, 1]),
      padding: { s: b64('SAME') },
      data_format: { s: b64('NHWC') },
      dilations: ints([1, dilation, dilation, 1]),
    });
    const [n, h, w] = x.shape;
    const cout = depthwise ? (kernelShape[2] as number) * (kernelShape[3] as number) : (kernelShape[3] as number);
    return { name: node, shape: [n, Math.ceil(h / stride), Math.ceil(w / stride), cout] };
  }

  private biasAdd(x: GraphTensor, bias: Float32Array, base: string): GraphTensor {
    const b = this.g.constant(`${base}/bias`, bias, [bias.length]);
    return { name: this.g.op('BiasAdd', `${base}/bias_add`, [x.name, b], { T: T_FLOAT, data_format: { s: b64('NHWC') } }), shape: x.shape };
  }

  private groupNorm(x: GraphTensor, norm: Extract<NormParams, { kind: 'gn' }>, epsilon: number, base: string): GraphTensor {
    const [, h, w, c] = x.shape;
    const g = norm.groups;
    const s1 = this.g.constant(`${base}/gn/shape_grouped`, Int32Array.from([-1, h * w, g, c / g]), [4]);
    const xr = this.g.op('Reshape', `${base}/gn/grouped`, [x.name, s1], { T: T_FLOAT });
    const axes = this.g.constant(`${base}/gn/axes`, Int32Array.from([1, 3]), [2]);
    const mean = this.g.op('Mean', `${base}/gn/mean`, [xr, axes], { T: T_FLOAT, keep_dims: { b: true } });
    const sq = this.g.op('SquaredDifference', `${base}/gn/sq`, [xr, mean], { T: T_FLOAT });
    const variance = this.g.op('Mean', `${base}/gn/variance`, [sq, axes], { T: T_FLOAT, keep_dims: { b: true } });
    const eps = this.g.constant(`${base}/gn/epsilon`, Float32Array.from([epsilon]), []);
    const inv = this.g.op('Rsqrt', `${base}/gn/rsqrt`, [this.g.op('AddV2', `${base}/gn/var_eps`, [variance, eps], { T: T_FLOAT })], { T: T_FLOAT });
    const xn = this.g.op('Mul', `${base}/gn/normalized`, [this.g.op('Sub', `${base}/gn/centred`, [xr, mean], { T: T_FLOAT }), inv], { T: T_FLOAT });
    const s2 = this.g.constant(`${base}/gn/shape`, Int32Array.from([-1, h, w, c]), [4]);
    const back = this.g.op('Reshape', `${base}/gn/ungrouped`, [xn, s2], { T: T_FLOAT });
    const gamma = this.g.constant(`${base}/gn/gamma`, values(norm.gamma), [c]);
    const beta = this.g.constant(`${base}/gn/beta`, values(norm.beta), [c]);
    const scaled = this.g.op('Mul', `${base}/gn/scaled`, [back, gamma], { T: T_FLOAT });
    return { name: this.g.op('AddV2', `${base}/gn/shifted`, [scaled, beta], { T: T_FLOAT }), shape: x.shape };
  }

  private convNorm(x: GraphTensor, p: ConvNormParams, o: ConvNormActOptions, depthwise: boolean): GraphTensor {
    const base = `layer_${this.layer++}`;
    const kernel = values(p.kernel);
    const shape = p.kernel.shape;
    let y: GraphTensor;
    if (p.norm.kind === 'bn') {
      const { scale, shift } = foldBatchNorm(p.norm, o.epsilon);
      const k = this.g.constant(`${base}/kernel`, scaleKernel(kernel, shape, scale, depthwise), shape);
      y = this.biasAdd(this.conv(x, k, shape, depthwise, o.stride ?? 1, o.dilation ?? 1, base), shift, base);
    } else {
      const k = this.g.constant(`${base}/kernel`, kernel, shape);
      y = this.groupNorm(this.conv(x, k, shape, depthwise, o.stride ?? 1, o.dilation ?? 1, base), p.norm, o.epsilon, base);
    }
    return { name: this.act(y.name, o.act, base), shape: y.shape };
  }

  convBnAct(x: GraphTensor, p: ConvNormParams, o: ConvNormActOptions): GraphTensor {
    return this.convNorm(x, p, o, false);
  }

  depthwiseBnAct(x: GraphTensor, p: ConvNormParams, o: ConvNormActOptions): GraphTensor {
    return this.convNorm(x, p, o, true);
  }

  conv2dBias(x: GraphTensor, p: ConvBiasParams, o: ConvBiasOptions = {}): GraphTensor {
    const base = `layer_${this.layer++}`;
    const k = this.g.constant(`${base}/kernel`, values(p.kernel), p.kernel.shape);
    let y = this.conv(x, k, p.kernel.shape, false, o.stride ?? 1, o.dilation ?? 1, base);
    if (p.bias) y = this.biasAdd(y, values(p.bias), base);
    return { name: this.act(y.name, o.act ?? 'none', base), shape: y.shape };
  }

  resizeBilinear(x: GraphTensor, size: readonly [number, number]): GraphTensor {
    if (x.shape[1] === size[0] && x.shape[2] === size[1]) return x;
    const s = this.g.constant('resize/size', Int32Array.from(size), [2]);
    const name = this.g.op('ResizeBilinear', 'resize', [x.name, s], { T: T_FLOAT, align_corners: { b: false }, half_pixel_centers: { b: true } });
    return { name, shape: [x.shape[0], size[0], size[1], x.shape[3]] };
  }

  globalAvgPool(x: GraphTensor): GraphTensor {
    const axes = this.g.constant('pool/axes', Int32Array.from([1, 2]), [2]);
    return { name: this.g.op('Mean', 'pool', [x.name, axes], { T: T_FLOAT, keep_dims: { b: true } }), shape: [x.shape[0], 1, 1, x.shape[3]] };
  }

  dropout(x: GraphTensor): GraphTensor {
    return x;
  }

  concat(xs: readonly GraphTensor[]): GraphTensor {
    const first = xs[0];
    if (!first) throw new Error('concat of nothing');
    if (xs.length === 1) return first;
    const axis = this.g.constant('concat/axis', Int32Array.from([3]), []);
    const name = this.g.op('ConcatV2', 'concat', [...xs.map((x) => x.name), axis], { T: T_FLOAT, N: { i: String(xs.length) }, Tidx: { type: 'DT_INT32' } });
    return { name, shape: [first.shape[0], first.shape[1], first.shape[2], xs.reduce((s, x) => s + x.shape[3], 0)] };
  }

  add(a: GraphTensor, b: GraphTensor): GraphTensor {
    return { name: this.g.op('AddV2', 'add', [a.name, b.name], { T: T_FLOAT }), shape: a.shape };
  }

  padTo(x: GraphTensor, h: number, w: number): GraphTensor {
    const [n, xh, xw, c] = x.shape;
    if (h === xh && w === xw) return x;
    const pads = this.g.constant('pad/paddings', Int32Array.from([0, 0, 0, h - xh, 0, w - xw, 0, 0]), [4, 2]);
    return { name: this.g.op('Pad', 'pad', [x.name, pads], { T: T_FLOAT, Tpaddings: { type: 'DT_INT32' } }), shape: [n, h, w, c] };
  }

  crop(x: GraphTensor, h: number, w: number): GraphTensor {
    const [n, xh, xw, c] = x.shape;
    if (h === xh && w === xw) return x;
    const begin = this.g.constant('crop/begin', Int32Array.from([0, 0, 0, 0]), [4]);
    const size = this.g.constant('crop/size', Int32Array.from([-1, h, w, -1]), [4]);
    return { name: this.g.op('Slice', 'crop', [x.name, begin, size], { T: T_FLOAT, Index: { type: 'DT_INT32' } }), shape: [n, h, w, c] };
  }
}
