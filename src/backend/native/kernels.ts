/**
 * The kernels of the `torch` backend that run in libtorch (native/seg-torch). Each returns
 * undefined for a case it does not handle (a dtype, NCHW, a resize mode, an empty tensor), and the
 * kernel registered for `torch` before it runs instead: tfjs's cpu kernel or seg's own
 * (src/backend/kernels), which read native tensors through the backend's copying `values` getter.
 *
 *   convolutions     Conv2D, DepthwiseConv2dNative and their input/filter gradients, with dilation
 *                    and asymmetric 'same' padding (ATen/oneDNN, channels_last views of NHWC);
 *                    FusedConv2D/FusedDepthwiseConv2D with a bias and linear/relu/relu6
 *   seg's fused ops  SegBatchNormActForward/Backward, SegOptimizerStep, SegMovingStats (C++ loops, same formulas),
 *                    SegLovaszSoftmax (bit-identical to the loss's JavaScript reference)
 *   element-wise     Add, Sub, Multiply, RealDiv, Maximum, Minimum, SquaredDifference, comparisons,
 *                    Relu, Relu6, Sqrt, Rsqrt, Square, Neg, Exp, Log, Abs, Sigmoid, Tanh, Step, ...
 *   reductions       Sum, Mean, Max, Min, Prod, ArgMax, ArgMin; Softmax
 *   data movement    Concat, SplitV, Slice, Transpose, PadV2, Tile, Cast (lossy casts), AddN
 *   resize, matmul   ResizeBilinear(+Grad) in half-pixel and align-corners modes, BatchMatMul
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { BinaryOp, type ConvGeometryArray, DTypeCode, ReduceOp, UnaryOp } from './addon.js';
import type { TorchBackend } from './backend.js';
import { movingStatsFactors } from '../kernels/batchnorm.js';
import { LOVASZ_SOFTMAX_KERNEL, type LovaszSoftmaxAttrs } from '../kernels/lovasz.js';

type Result = TensorInfo | TensorInfo[] | undefined;
type NativeKernel = (b: TorchBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap) => Result;
type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Pair = number | [number, number];

function need(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`torch backend: missing input ${name}`);
  return t;
}

/** The inputs of a kernel that takes a list (Concat, AddN). */
function list(inputs: NamedTensorInfoMap): TensorInfo[] {
  return (Array.isArray(inputs) ? (inputs as TensorInfo[]) : Object.values(inputs)).filter((t): t is TensorInfo => t !== undefined);
}

const f32 = (...ts: TensorInfo[]): boolean => ts.every((t) => t.dtype === 'float32');
const numeric = (...ts: TensorInfo[]): boolean => ts.every((t) => t.dtype === 'float32' || t.dtype === 'int32');
const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const nonEmpty = (...ts: TensorInfo[]): boolean => ts.every((t) => sizeOf(t.shape) > 0);

// ---------------------------------------------------------------------------------------------
// convolutions

function nhwc(attrs: NamedAttrMap): boolean {
  const f = attrs['dataFormat'];
  return f === undefined || f === null || f === 'NHWC' || f === 'channelsLast';
}

function convInfo(inShape: number[], filterShape: number[], attrs: NamedAttrMap, depthwise: boolean): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape as Shape4,
    attrs['strides'] as Pair,
    (attrs['dilations'] as Pair | undefined) ?? 1,
    attrs['pad'] as Pad,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
    'channelsLast',
  );
}

function geometry(ci: tf.backend_util.Conv2DInfo, depthwise: boolean): ConvGeometryArray {
  const p = ci.padInfo;
  return [ci.strideHeight, ci.strideWidth, p.top, p.bottom, p.left, p.right, ci.dilationHeight, ci.dilationWidth, depthwise ? 1 : 0];
}

function convForward(depthwise: boolean): NativeKernel {
  return (b, inputs, attrs) => {
    const x = need(inputs, 'x');
    const w = need(inputs, 'filter');
    if (!f32(x, w) || !nhwc(attrs) || !nonEmpty(x, w)) return undefined;
    const ci = convInfo(x.shape, w.shape, attrs, depthwise);
    const id = b.addon.conv2d(b.ref(x), x.shape, b.ref(w), w.shape, geometry(ci, depthwise));
    return b.fromNative(id, [ci.batchSize, ci.outHeight, ci.outWidth, ci.outChannels], 'float32');
  };
}

/** tfjs's fused activations the addon applies in place (0 none, 1 relu, 2 relu6); others fall back. */
const FUSED_ACT: Readonly<Record<string, number>> = Object.freeze({ linear: 0, relu: 1, relu6: 2 });

/** FusedConv2D / FusedDepthwiseConv2D: the convolution with its bias in oneDNN, the activation in place. */
function fusedConvForward(depthwise: boolean): NativeKernel {
  return (b, inputs, attrs) => {
    const x = need(inputs, 'x');
    const w = need(inputs, 'filter');
    const bias = inputs['bias'];
    const act = FUSED_ACT[(attrs['activation'] as string | undefined) ?? 'linear'];
    if (act === undefined || inputs['preluActivationWeights'] || !f32(x, w) || !nhwc(attrs) || !nonEmpty(x, w)) return undefined;
    const ci = convInfo(x.shape, w.shape, attrs, depthwise);
    if (bias && (!f32(bias) || sizeOf(bias.shape) !== ci.outChannels)) return undefined; // a broadcast bias: the cpu kernel
    const id = b.addon.fusedConv2d(b.ref(x), x.shape, b.ref(w), w.shape, bias ? b.ref(bias) : null, bias ? bias.shape : null, geometry(ci, depthwise), act);
    return b.fromNative(id, [ci.batchSize, ci.outHeight, ci.outWidth, ci.outChannels], 'float32');
  };
}

function convBackpropInput(depthwise: boolean): NativeKernel {
  return (b, inputs, attrs) => {
    const dy = need(inputs, 'dy');
    const w = need(inputs, 'filter');
    const inputShape = attrs['inputShape'] as number[];
    if (!f32(dy, w) || !nhwc(attrs) || !nonEmpty(dy, w) || sizeOf(inputShape) === 0) return undefined;
    const ci = convInfo(inputShape, w.shape, attrs, depthwise);
    const id = b.addon.conv2dBackpropInput(b.ref(dy), dy.shape, b.ref(w), w.shape, [...inputShape], geometry(ci, depthwise));
    return b.fromNative(id, [...inputShape], 'float32');
  };
}

function convBackpropFilter(depthwise: boolean): NativeKernel {
  return (b, inputs, attrs) => {
    const x = need(inputs, 'x');
    const dy = need(inputs, 'dy');
    const filterShape = attrs['filterShape'] as number[];
    if (!f32(x, dy) || !nhwc(attrs) || !nonEmpty(x, dy)) return undefined;
    const ci = convInfo(x.shape, filterShape, attrs, depthwise);
    const id = b.addon.conv2dBackpropFilter(b.ref(x), x.shape, b.ref(dy), dy.shape, [...filterShape], geometry(ci, depthwise));
    return b.fromNative(id, [...filterShape], 'float32');
  };
}

// ---------------------------------------------------------------------------------------------
// seg's fused kernels (src/backend/kernels/batchnorm.ts, optimizer.ts)

const ACT: Readonly<Record<string, number>> = Object.freeze({ none: 0, relu: 1, relu6: 2 });

function actCode(attrs: NamedAttrMap): number {
  const a = ACT[attrs['act'] as string];
  if (a === undefined) throw new Error(`torch backend: unknown fused activation ${String(attrs['act'])}`);
  return a;
}

const bnForward: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  const g = need(inputs, 'gamma');
  const be = need(inputs, 'beta');
  if (!f32(x, g, be) || !nonEmpty(x)) return undefined;
  const C = x.shape[x.shape.length - 1]!;
  const ids = b.addon.bnForward(b.ref(x), x.shape, b.ref(g), g.shape, b.ref(be), be.shape, actCode(attrs), attrs['epsilon'] as number);
  return [b.fromNative(ids[0]!, [...x.shape], 'float32'), b.fromNative(ids[1]!, [C], 'float32'), b.fromNative(ids[2]!, [C], 'float32')];
};

const bnBackward: NativeKernel = (b, inputs, attrs) => {
  const [dy, x, g, be, m, v] = ['dy', 'x', 'gamma', 'beta', 'mean', 'variance'].map((n) => need(inputs, n)) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  if (!f32(dy, x, g, be, m, v) || !nonEmpty(x)) return undefined;
  const C = x.shape[x.shape.length - 1]!;
  const ids = b.addon.bnBackward(
    b.ref(dy), dy.shape, b.ref(x), x.shape, b.ref(g), g.shape, b.ref(be), be.shape, b.ref(m), m.shape, b.ref(v), v.shape, actCode(attrs), attrs['epsilon'] as number,
  );
  return [b.fromNative(ids[0]!, [...x.shape], 'float32'), b.fromNative(ids[1]!, [C], 'float32'), b.fromNative(ids[2]!, [C], 'float32')];
};

const optimizerStep: NativeKernel = (b, inputs, attrs) => {
  const w = need(inputs, 'w');
  const g = need(inputs, 'g');
  const m = need(inputs, 'm');
  const v = inputs['v'];
  if (!f32(w, g, m) || (v && !f32(v))) return undefined;
  const adam = attrs['kind'] === 'adam';
  if (adam && !v) throw new Error('SegOptimizerStep: adam needs v');
  const a = ['lr', 'beta1', 'beta2', 'epsilon', 'bc1', 'bc2', 'weightDecay'].map((k) => attrs[k] as number);
  const ids = b.addon.optimizerStep(b.ref(w), w.shape, b.ref(g), g.shape, b.ref(m), m.shape, adam && v ? b.ref(v) : null, adam && v ? v.shape : null, [adam ? 1 : 0, ...a]);
  return ids.map((id) => b.fromNative(id, [...w.shape], 'float32'));
};

const movingStats: NativeKernel = (b, inputs, attrs) => {
  const [mm, mv, mean, variance] = (['movingMean', 'movingVariance', 'mean', 'variance'] as const).map((k) => need(inputs, k)) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  if (!f32(mm, mv, mean, variance)) return undefined;
  const { momentum, rest } = movingStatsFactors(attrs['momentum'] as number);
  const ids = b.addon.movingStats(b.ref(mm), mm.shape, b.ref(mv), mv.shape, b.ref(mean), mean.shape, b.ref(variance), variance.shape, momentum, rest);
  return ids.map((id) => b.fromNative(id, [...mm.shape], 'float32'));
};

const lovaszSoftmax: NativeKernel = (b, inputs, attrs) => {
  const logits = need(inputs, 'logits');
  const labels = need(inputs, 'labels');
  const a = attrs as unknown as LovaszSoftmaxAttrs;
  const ids = b.addon.lovaszSoftmax(b.ref(logits), logits.shape, b.ref(labels), labels.shape, a.ignoreIndex, a.perImage, a.classes === 'all', a.gradient);
  return [b.fromNative(ids[0]!, [], 'float32'), ...(a.gradient ? [b.fromNative(ids[1]!, [...logits.shape], 'float32')] : [])];
};

// ---------------------------------------------------------------------------------------------
// element-wise

function binary(op: number, accepts: (a: TensorInfo, b: TensorInfo) => boolean, outDtype?: DataType): NativeKernel {
  return (b, inputs) => {
    const x = need(inputs, 'a');
    const y = need(inputs, 'b');
    if (x.dtype !== y.dtype || !accepts(x, y) || !nonEmpty(x, y)) return undefined;
    const shape = tf.backend_util.assertAndGetBroadcastShape(x.shape, y.shape);
    return b.fromNative(b.addon.binary(op, b.ref(x), x.shape, b.ref(y), y.shape), shape, outDtype ?? x.dtype);
  };
}

function unary(op: number, dtype: DataType = 'float32'): NativeKernel {
  return (b, inputs, attrs) => {
    const x = need(inputs, 'x');
    if (x.dtype !== dtype || !nonEmpty(x)) return undefined;
    const alpha = typeof attrs['alpha'] === 'number' ? attrs['alpha'] : 0;
    return b.fromNative(b.addon.unary(op, b.ref(x), x.shape, alpha), [...x.shape], x.dtype);
  };
}

const cast: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  const dtype = attrs['dtype'] as DataType;
  // casts without loss share the data (tfjs's cpu kernel, no copy); the others convert natively
  if (!nonEmpty(x) || !(dtype === 'int32' || dtype === 'bool') || !(x.dtype === 'float32' || x.dtype === 'int32') || x.dtype === dtype) return undefined;
  return b.fromNative(b.addon.cast(b.ref(x), x.shape, DTypeCode[dtype]), [...x.shape], dtype);
};

// ---------------------------------------------------------------------------------------------
// reductions

function reduction(op: number, axisAttr: string, accepts: (x: TensorInfo) => boolean = (x) => f32(x)): NativeKernel {
  return (b, inputs, attrs) => {
    const x = need(inputs, 'x');
    if (!accepts(x) || !nonEmpty(x) || x.shape.length === 0) return undefined;
    const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
    if (axes.length === 0) return undefined;
    const keepDims = attrs['keepDims'] === true;
    const sorted = [...axes].sort((p, q) => p - q);
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, sorted);
    const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, sorted) : outShape;
    return b.fromNative(b.addon.reduce(op, b.ref(x), x.shape, sorted, keepDims), shape, x.dtype);
  };
}

function argReduction(op: number): NativeKernel {
  return (b, inputs, attrs) => {
    const x = need(inputs, 'x');
    if (!f32(x) || !nonEmpty(x) || x.shape.length === 0) return undefined;
    const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
    if (axes.length !== 1) return undefined;
    const axis = axes[0]!;
    const shape = x.shape.filter((_, i) => i !== axis);
    return b.fromNative(b.addon.reduce(op, b.ref(x), x.shape, [axis], false), shape, 'int32');
  };
}

const softmax: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'logits');
  if (!f32(x) || !nonEmpty(x) || x.shape.length === 0) return undefined;
  const dim = (attrs['dim'] as number | undefined) ?? -1;
  const d = dim < 0 ? x.shape.length + dim : dim;
  if (d !== x.shape.length - 1) return undefined;
  return b.fromNative(b.addon.softmax(b.ref(x), x.shape, d), [...x.shape], 'float32');
};

// ---------------------------------------------------------------------------------------------
// data movement

const concat: NativeKernel = (b, inputs, attrs) => {
  const xs = list(inputs);
  const first = xs[0];
  if (!first || !numeric(...xs) || xs.some((t) => t.dtype !== first.dtype) || !nonEmpty(...xs)) return undefined;
  if (xs.length === 1) return undefined; // tfjs's own: shares the data
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, first.shape)[0]!;
  const shapes = xs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  return b.fromNative(b.addon.concat(xs.map((t) => b.ref(t)), shapes, axis), outShape, first.dtype);
};

const splitV: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  if (!numeric(x) || !nonEmpty(x)) return undefined;
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x, attrs['numOrSizeSplits'] as number | number[], axis);
  const ids = b.addon.split(b.ref(x), x.shape, sizes, axis);
  return ids.map((id, i) => {
    const shape = [...x.shape];
    shape[axis] = sizes[i]!;
    return b.fromNative(id, shape, x.dtype);
  });
};

const slice: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  if (!numeric(x) || !nonEmpty(x) || x.shape.length === 0) return undefined;
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs['begin'] as number | number[], attrs['size'] as number | number[] | undefined) as [number[], number[]];
  tf.slice_util.assertParamsValid(x, begin, size);
  if (sizeOf(size) === 0) return undefined;
  return b.fromNative(b.addon.slice(b.ref(x), x.shape, begin, size), size, x.dtype);
};

const transpose: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  if (!numeric(x) || !nonEmpty(x)) return undefined;
  const perm = attrs['perm'] as number[];
  return b.fromNative(b.addon.transpose(b.ref(x), x.shape, perm), perm.map((p) => x.shape[p]!), x.dtype);
};

const padV2: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  if (!numeric(x) || !nonEmpty(x)) return undefined;
  const paddings = attrs['paddings'] as Array<[number, number]>;
  const shape = paddings.map((p, i) => p[0] + x.shape[i]! + p[1]);
  return b.fromNative(b.addon.pad(b.ref(x), x.shape, paddings.flat(), (attrs['constantValue'] as number | undefined) ?? 0), shape, x.dtype);
};

const tile: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'x');
  if (!numeric(x) || !nonEmpty(x)) return undefined;
  const reps = attrs['reps'] as number[];
  if (reps.length !== x.shape.length || reps.some((r) => r < 1)) return undefined;
  return b.fromNative(b.addon.tile(b.ref(x), x.shape, reps), x.shape.map((d, i) => d * reps[i]!), x.dtype);
};

const addN: NativeKernel = (b, inputs) => {
  const xs = list(inputs);
  const first = xs[0];
  if (!first || !f32(...xs) || !nonEmpty(...xs) || xs.some((t) => t.shape.join() !== first.shape.join())) return undefined;
  return b.fromNative(b.addon.addN(xs.map((t) => b.ref(t)), xs.map((t) => t.shape)), [...first.shape], 'float32');
};

// ---------------------------------------------------------------------------------------------
// resize, matmul

/** libtorch's bilinear modes: half-pixel centres (align_corners=False) or align corners; not tfjs's legacy mode. */
function torchResizeMode(attrs: NamedAttrMap): boolean | undefined {
  const align = attrs['alignCorners'] === true;
  const half = attrs['halfPixelCenters'] === true;
  if (half && !align) return false;
  if (align && !half) return true;
  return undefined;
}

const resizeBilinear: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'images');
  const align = torchResizeMode(attrs);
  if (align === undefined || !f32(x) || !nonEmpty(x) || x.shape.length !== 4) return undefined;
  const [h, w] = attrs['size'] as [number, number];
  if (h < 1 || w < 1) return undefined;
  const [n, , , c] = x.shape as Shape4;
  return b.fromNative(b.addon.resizeBilinear(b.ref(x), x.shape, h, w, align), [n, h, w, c], 'float32');
};

const resizeBilinearGrad: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'images');
  const dy = need(inputs, 'dy');
  const align = torchResizeMode(attrs);
  if (align === undefined || !f32(dy) || !nonEmpty(x, dy) || x.shape.length !== 4) return undefined;
  return b.fromNative(b.addon.resizeBilinearGrad(b.ref(dy), dy.shape, [...x.shape], align), [...x.shape], 'float32');
};

const batchMatMul: NativeKernel = (b, inputs, attrs) => {
  const x = need(inputs, 'a');
  const y = need(inputs, 'b');
  if (!f32(x, y) || !nonEmpty(x, y) || x.shape.length < 2 || y.shape.length < 2) return undefined;
  const ta = attrs['transposeA'] === true;
  const tb = attrs['transposeB'] === true;
  const ra = x.shape.length;
  const rb = y.shape.length;
  const outer = tf.backend_util.assertAndGetBroadcastShape(x.shape.slice(0, -2), y.shape.slice(0, -2));
  const inA = ta ? x.shape[ra - 2]! : x.shape[ra - 1]!;
  const inB = tb ? y.shape[rb - 1]! : y.shape[rb - 2]!;
  if (inA !== inB) return undefined; // tfjs's kernel reports the error
  const m = ta ? x.shape[ra - 1]! : x.shape[ra - 2]!;
  const n = tb ? y.shape[rb - 2]! : y.shape[rb - 1]!;
  return b.fromNative(b.addon.matmul(b.ref(x), x.shape, b.ref(y), y.shape, ta, tb), [...outer, m, n], 'float32');
};

// ---------------------------------------------------------------------------------------------

const anyNumeric = (a: TensorInfo, b: TensorInfo): boolean => numeric(a, b);
const floats = (a: TensorInfo, b: TensorInfo): boolean => f32(a, b);

/** Kernel name → native implementation. */
export const NATIVE_KERNELS: Readonly<Record<string, NativeKernel>> = Object.freeze({
  Conv2D: convForward(false),
  DepthwiseConv2dNative: convForward(true),
  FusedConv2D: fusedConvForward(false),
  FusedDepthwiseConv2D: fusedConvForward(true),
  Conv2DBackpropInput: convBackpropInput(false),
  Conv2DBackpropFilter: convBackpropFilter(false),
  DepthwiseConv2dNativeBackpropInput: convBackpropInput(true),
  DepthwiseConv2dNativeBackpropFilter: convBackpropFilter(true),
  SegBatchNormActForward: bnForward,
  SegBatchNormActBackward: bnBackward,
  SegOptimizerStep: optimizerStep,
  SegMovingStats: movingStats,
  [LOVASZ_SOFTMAX_KERNEL]: lovaszSoftmax,
  Add: binary(BinaryOp.add, anyNumeric),
  Sub: binary(BinaryOp.sub, anyNumeric),
  Multiply: binary(BinaryOp.mul, anyNumeric),
  RealDiv: binary(BinaryOp.div, floats),
  Maximum: binary(BinaryOp.maximum, anyNumeric),
  Minimum: binary(BinaryOp.minimum, anyNumeric),
  SquaredDifference: binary(BinaryOp.squaredDifference, floats),
  Greater: binary(BinaryOp.greater, anyNumeric, 'bool'),
  GreaterEqual: binary(BinaryOp.greaterEqual, anyNumeric, 'bool'),
  Less: binary(BinaryOp.less, anyNumeric, 'bool'),
  LessEqual: binary(BinaryOp.lessEqual, anyNumeric, 'bool'),
  Equal: binary(BinaryOp.equal, anyNumeric, 'bool'),
  NotEqual: binary(BinaryOp.notEqual, anyNumeric, 'bool'),
  LogicalAnd: binary(BinaryOp.logicalAnd, (a, c) => a.dtype === 'bool' && c.dtype === 'bool', 'bool'),
  LogicalOr: binary(BinaryOp.logicalOr, (a, c) => a.dtype === 'bool' && c.dtype === 'bool', 'bool'),
  Relu: unary(UnaryOp.relu),
  Relu6: unary(UnaryOp.relu6),
  Sqrt: unary(UnaryOp.sqrt),
  Rsqrt: unary(UnaryOp.rsqrt),
  Square: unary(UnaryOp.square),
  Neg: unary(UnaryOp.neg),
  Exp: unary(UnaryOp.exp),
  Log: unary(UnaryOp.log),
  Abs: unary(UnaryOp.abs),
  Sigmoid: unary(UnaryOp.sigmoid),
  Tanh: unary(UnaryOp.tanh),
  Step: unary(UnaryOp.step),
  Reciprocal: unary(UnaryOp.reciprocal),
  Log1p: unary(UnaryOp.log1p),
  Floor: unary(UnaryOp.floor),
  Ceil: unary(UnaryOp.ceil),
  LogicalNot: unary(UnaryOp.logicalNot, 'bool'),
  Cast: cast,
  Sum: reduction(ReduceOp.sum, 'axis'),
  Mean: reduction(ReduceOp.mean, 'axis'),
  Max: reduction(ReduceOp.max, 'reductionIndices'),
  Min: reduction(ReduceOp.min, 'axis'),
  Prod: reduction(ReduceOp.prod, 'axis'),
  ArgMax: argReduction(ReduceOp.argMax),
  ArgMin: argReduction(ReduceOp.argMin),
  Softmax: softmax,
  Concat: concat,
  SplitV: splitV,
  Slice: slice,
  Transpose: transpose,
  PadV2: padV2,
  Tile: tile,
  AddN: addN,
  ResizeBilinear: resizeBilinear,
  ResizeBilinearGrad: resizeBilinearGrad,
  BatchMatMul: batchMatMul,
});

/** The kernel function registered for `torch`: the native body, else `fallback`. */
export function nativeKernelFunc(name: string, body: NativeKernel, fallback: KernelFunc | undefined): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const out = body(backend as TorchBackend, inputs, attrs ?? {});
    if (out !== undefined) return out;
    if (!fallback) throw new Error(`torch backend: ${name} is not supported for these inputs and has no fallback`);
    return fallback({ inputs, backend, attrs });
  };
}
