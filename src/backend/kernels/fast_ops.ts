/**
 * Faster versions of some of the op layer's composite ops (src/ops), built on seg's fused kernels,
 * for `setOps()` (src/ops/index.ts). Each agrees with `referenceOps` in values, gradients and the
 * moving-statistics update (test/backend/fast_ops.test.ts).
 *
 *   convBnAct, depthwiseBnAct   training-mode batch norm: the convolution as the reference op
 *                                computes it, then SegBatchNormActForward/Backward (batchnorm.ts)
 *                                instead of ~25 tfjs elementwise/reduction passes. Inference-mode
 *                                batch norm folded into the convolution (kernel·γ/√(var+ε), bias
 *                                β − mean·γ/√(var+ε)): on wasm one FusedConv2D/FusedDepthwiseConv2D
 *                                call with bias and activation (XNNPACK) instead of conv, Multiply,
 *                                Add and the activation; elsewhere conv, Add, activation. Group
 *                                norm, and backends without seg's kernels: the reference op.
 *                                Inside inferenceScope (an evaluation) the folded weights are
 *                                computed once and kept until the scope ends.
 *   resizeBilinear              tf.image.resizeBilinear (half-pixel) with its own gradient, which
 *                                on these backends is seg's exact-adjoint ResizeBilinearGrad
 *                                (resize.ts; the addon's on torch), instead of the reference's
 *                                interpolation-matrix products (dense, so 16–32× the work).
 *
 * registerTrainingKernels('wasm') installs them (installFusedOps), so `seg train` on wasm uses them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dSame, depthwiseSame, referenceOps, setOps } from '../../ops/index.js';
import { activate } from '../../ops/reference.js';
import { updateMovingStats } from '../../ops/norm.js';
import type { BatchNormParams, ConvNormActOptions, ConvNormParams, OpSet } from '../../ops/types.js';
import { batchNormAct } from './batchnorm.js';
import { hasTrainingKernels } from './index.js';

/**
 * The moving-statistics update of updateMovingStats (ops/norm.ts), the same bits, in one
 * SegMovingStats call (batchnorm.ts) where the backend has it; disposes the batch statistics.
 */
function updateMovingStatsFused(norm: BatchNormParams, batch: { mean: tf.Tensor1D; variance: tf.Tensor1D }, momentum: number): void {
  if (tf.getKernel('SegMovingStats', tf.getBackend()) === undefined) return updateMovingStats(norm, batch, momentum);
  try {
    const inputs = { movingMean: norm.movingMean, movingVariance: norm.movingVariance, mean: batch.mean, variance: batch.variance };
    const [mean, variance] = tf.engine().runKernel('SegMovingStats', inputs, { momentum }) as tf.Tensor1D[];
    norm.movingMean.assign(mean!);
    norm.movingVariance.assign(variance!);
    tf.dispose([mean!, variance!]);
  } finally {
    tf.dispose([batch.mean, batch.variance]);
  }
}

/** Training-mode BN + activation with seg's fused kernels, updating the moving statistics as the reference does. */
function bnActTrain(y: tf.Tensor4D, norm: BatchNormParams, o: ConvNormActOptions): tf.Tensor4D {
  const r = batchNormAct(y, norm.gamma, norm.beta, o.act, o.epsilon);
  updateMovingStatsFused(norm, r, o.momentum);
  return r.y;
}

/** Whether the fused path applies: training-mode BN on a backend that has seg's kernels. */
function fusable(p: ConvNormParams, o: ConvNormActOptions): boolean {
  return p.norm.kind === 'bn' && o.training && tf.getKernel('SegBatchNormActForward', tf.getBackend()) !== undefined;
}

/** Inference-mode BN as a per-output-channel scale of the kernel and a bias. */
function foldBn(norm: BatchNormParams, epsilon: number): { scale: tf.Tensor1D; bias: tf.Tensor1D } {
  const scale = tf.mul(norm.gamma, tf.rsqrt(tf.add(norm.movingVariance, epsilon))) as tf.Tensor1D;
  return { scale, bias: tf.sub(norm.beta, tf.mul(norm.movingMean, scale)) as tf.Tensor1D };
}

/** A convolution's kernel and bias with its batch norm folded in, and the data of the weights they came from. */
interface Folded {
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D;
  dataIds: readonly object[];
}

/** Folded weights kept by an inferenceScope, by convolution kernel (undefined outside one). */
let foldedInScope: Map<tf.Tensor, Folded> | undefined;

/** The kernel and bias of `p` with `norm` folded in (new tensors). */
function fold(p: ConvNormParams, norm: BatchNormParams, epsilon: number, depthwise: boolean): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
  return tf.tidy(() => {
    const { scale, bias } = foldBn(norm, epsilon);
    // A conv kernel's output channels are its last axis; a depthwise kernel's are its third.
    return { kernel: tf.mul(p.kernel, depthwise ? tf.reshape(scale, [1, 1, -1, 1]) : scale) as tf.Tensor4D, bias };
  });
}

/** fold(), computed once per inferenceScope while the weights' data stay the same; kept until the scope ends. */
function foldedWeights(cache: Map<tf.Tensor, Folded>, p: ConvNormParams, norm: BatchNormParams, epsilon: number, depthwise: boolean): Folded {
  const dataIds = [p.kernel, norm.gamma, norm.beta, norm.movingMean, norm.movingVariance].map((t) => t.dataId);
  const hit = cache.get(p.kernel);
  if (hit && hit.dataIds.every((d, i) => d === dataIds[i])) return hit;
  if (hit) tf.dispose([hit.kernel, hit.bias]);
  const f = fold(p, norm, epsilon, depthwise);
  const entry = { kernel: tf.keep(f.kernel), bias: tf.keep(f.bias), dataIds };
  cache.set(p.kernel, entry);
  return entry;
}

/**
 * OpSet.inferenceScope: batch norm folded once per convolution for the whole of `f` (not once per
 * forward pass); the folded tensors are disposed when `f` ends. Nested scopes share the outer one.
 */
async function inferenceScope<R>(f: () => Promise<R>): Promise<R> {
  if (foldedInScope) return f();
  const cache = new Map<tf.Tensor, Folded>();
  foldedInScope = cache;
  try {
    return await f();
  } finally {
    foldedInScope = undefined;
    for (const e of cache.values()) tf.dispose([e.kernel, e.bias]);
  }
}

/** Inference with BN folded into the convolution (module comment). */
function foldedBnAct(x: tf.Tensor4D, p: ConvNormParams, norm: BatchNormParams, o: ConvNormActOptions, depthwise: boolean): tf.Tensor4D {
  // inside a gradient the fold must be recorded, so it is computed afresh
  const cache = foldedInScope && !tf.engine().isTapeOn() ? foldedInScope : undefined;
  if (cache) {
    const w = foldedWeights(cache, p, norm, o.epsilon, depthwise);
    return tf.tidy(() => foldedConv(x, w.kernel, w.bias, o, depthwise));
  }
  return tf.tidy(() => {
    const w = fold(p, norm, o.epsilon, depthwise);
    return foldedConv(x, w.kernel, w.bias, o, depthwise);
  });
}

/** The convolution of foldedBnAct, with `kernel` already scaled. */
function foldedConv(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D, o: ConvNormActOptions, depthwise: boolean): tf.Tensor4D {
  const stride = o.stride ?? 1;
  const dilation = o.dilation ?? 1;
  const [, h, w] = x.shape;
  // Where only a depthwise kernel's centre tap sees the image the reference's per-channel scale applies (depthwiseConv).
  const centreOnly = depthwise && dilation > 1 && dilation >= h && dilation >= w;
  // the backends with a fused convolution + bias + activation kernel (wasm's XNNPACK one takes no dilated dense conv)
  const backend = tf.getBackend();
  if (!centreOnly && (backend === 'torch' || (backend === 'wasm' && (depthwise || dilation === 1)))) {
    const args = { x, filter: kernel, strides: stride, pad: 'same' as const, dilations: dilation, bias, activation: o.act === 'none' ? ('linear' as const) : o.act };
    return depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  }
  return activate(tf.add(depthwise ? depthwiseConv(x, kernel, stride, dilation) : conv2dSame(x, kernel, stride, dilation), bias), o.act);
}

function convBnAct(x: tf.Tensor4D, p: ConvNormParams, o: ConvNormActOptions): tf.Tensor4D {
  if (p.norm.kind === 'bn' && !o.training) return foldedBnAct(x, p, p.norm, o, false);
  if (!fusable(p, o) || p.norm.kind !== 'bn') return referenceOps.convBnAct(x, p, o);
  const norm = p.norm;
  return tf.tidy(() => bnActTrain(conv2dSame(x, p.kernel, o.stride ?? 1, o.dilation ?? 1), norm, o));
}

/**
 * Depthwise 'same' convolution; an atrous one runs as a dilated depthwise convolution directly
 * (XNNPACK forward, seg's dilation-capable gradients) instead of the reference's space-to-batch
 * transposes, except where only the centre tap sees the image (rate ≥ H and W), which the
 * reference already reduces to a per-channel scale.
 */
function depthwiseConv(x: tf.Tensor4D, kernel: tf.Tensor4D, stride: number, dilation: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (dilation === 1 || (dilation >= h && dilation >= w) || !hasTrainingKernels(tf.getBackend())) return depthwiseSame(x, kernel, stride, dilation);
  return tf.depthwiseConv2d(x, kernel, stride, 'same', 'NHWC', dilation);
}

function depthwiseBnAct(x: tf.Tensor4D, p: ConvNormParams, o: ConvNormActOptions): tf.Tensor4D {
  if (p.norm.kind === 'bn' && !o.training) return foldedBnAct(x, p, p.norm, o, true);
  if (!fusable(p, o) || p.norm.kind !== 'bn') return referenceOps.depthwiseBnAct(x, p, o);
  const norm = p.norm;
  return tf.tidy(() => bnActTrain(depthwiseConv(x, p.kernel, o.stride ?? 1, o.dilation ?? 1), norm, o));
}

/** Whether the active backend's ResizeBilinearGrad is seg's exact adjoint (tfjs's own ignores halfPixelCenters). */
function exactResizeGrad(): boolean {
  const backend = tf.getBackend();
  return backend === 'torch' || hasTrainingKernels(backend);
}

function resizeBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [, h, w] = x.shape;
  const [oh, ow] = size;
  const plain = Number.isInteger(oh) && Number.isInteger(ow) && oh > 0 && ow > 0 && (oh !== h || ow !== w);
  if (!plain || !exactResizeGrad()) return referenceOps.resizeBilinear(x, size); // it validates the size, and clones at the same size
  return tf.image.resizeBilinear(x, [oh, ow], false, true);
}

/** The ops seg's kernels make faster (needs registerTrainingKernels for the active backend). */
export const fusedOps: Readonly<Partial<OpSet<tf.Tensor4D>>> = Object.freeze({ convBnAct, depthwiseBnAct, resizeBilinear, inferenceScope });

/** Make the model use `fusedOps`; returns the function that restores the previous op set. */
export function installFusedOps(): () => void {
  return setOps(fusedOps);
}
