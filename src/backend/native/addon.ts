/**
 * The optional libtorch addon (native/seg-torch, npm package `seg-torch`, an optionalDependency):
 * its JavaScript interface, and loading it when it is installed.
 *
 * The addon keeps tensors in libtorch (a table of at::Tensor named by integer ids) and runs kernels
 * on them. A tensor input is a pair (ref, shape): ref is an id or a typed array (Float32Array,
 * Int32Array, or Uint8Array for bool), which is read in place during the call. Results are ids of new
 * tensors, contiguous in tfjs's (row-major, NHWC) order; `read` copies one into a typed array,
 * `release` frees it. See native/seg-torch/src/common.h.
 *
 * SEG_TORCH=0 makes seg behave as if the addon were not installed.
 */
import { createRequire } from 'node:module';

/** A tensor argument: an addon tensor id or a typed array read in place. */
export type TensorRef = number | Float32Array | Int32Array | Uint8Array;

/** Strides, TensorFlow padding (top, bottom, left, right), dilations and depthwise (0/1). */
export type ConvGeometryArray = [number, number, number, number, number, number, number, number, number];

/** Element-wise binary operations (src/addon.cc `Binary`). */
export const BinaryOp = Object.freeze({
  add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, squaredDifference: 6,
  greater: 7, greaterEqual: 8, less: 9, lessEqual: 10, equal: 11, notEqual: 12, logicalAnd: 13, logicalOr: 14, pow: 15,
});
/** Element-wise unary operations (src/addon.cc `Unary`). */
export const UnaryOp = Object.freeze({
  relu: 0, relu6: 1, sqrt: 2, rsqrt: 3, square: 4, neg: 5, exp: 6, log: 7, abs: 8, sigmoid: 9, tanh: 10, step: 11,
  reciprocal: 12, log1p: 13, floor: 14, ceil: 15, round: 16, sign: 17, logicalNot: 18,
});
/** Reductions (src/addon.cc `Reduce`). */
export const ReduceOp = Object.freeze({ sum: 0, mean: 1, max: 2, min: 3, prod: 4, argMax: 5, argMin: 6, any: 7, all: 8 });
/** dtype codes of `cast`. */
export const DTypeCode = Object.freeze({ float32: 0, int32: 1, bool: 2 });

/** The functions native/seg-torch exports. */
export interface TorchAddon {
  conv2d(x: TensorRef, xShape: number[], w: TensorRef, wShape: number[], geometry: ConvGeometryArray): number;
  /** Convolution + bias ([Cout], or null) + activation (0 none, 1 relu, 2 relu6), as tfjs's FusedConv2D. */
  fusedConv2d(x: TensorRef, xShape: number[], w: TensorRef, wShape: number[], bias: TensorRef | null, biasShape: number[] | null, geometry: ConvGeometryArray, act: number): number;
  conv2dBackpropInput(dy: TensorRef, dyShape: number[], w: TensorRef, wShape: number[], inputShape: number[], geometry: ConvGeometryArray): number;
  conv2dBackpropFilter(x: TensorRef, xShape: number[], dy: TensorRef, dyShape: number[], filterShape: number[], geometry: ConvGeometryArray): number;
  /** Training-mode batch norm + activation (0 none, 1 relu, 2 relu6): [y, mean, variance]. */
  bnForward(x: TensorRef, xShape: number[], gamma: TensorRef, gShape: number[], beta: TensorRef, bShape: number[], act: number, epsilon: number): number[];
  /** Its gradient: [dx, dgamma, dbeta]. */
  bnBackward(
    dy: TensorRef, dyShape: number[], x: TensorRef, xShape: number[], gamma: TensorRef, gShape: number[], beta: TensorRef, bShape: number[],
    mean: TensorRef, mShape: number[], variance: TensorRef, vShape: number[], act: number, epsilon: number,
  ): number[];
  /** One Adam/SGD update; attrs = [adam ? 1 : 0, lr, beta1, beta2, epsilon, bc1, bc2, weightDecay]: [w, m(, v)]. */
  optimizerStep(w: TensorRef, wShape: number[], g: TensorRef, gShape: number[], m: TensorRef, mShape: number[], v: TensorRef | null, vShape: number[] | null, attrs: number[]): number[];
  /** SegMovingStats: [moving mean, moving variance] blended with the batch's, as moving·momentum + batch·rest. */
  movingStats(mm: TensorRef, mmShape: number[], mv: TensorRef, mvShape: number[], mean: TensorRef, meanShape: number[], variance: TensorRef, vShape: number[], momentum: number, rest: number): number[];
  /**
   * SegLovaszSoftmax (src/backend/kernels/lovasz.ts): the loss of logits [N, H, W, C] (softmax
   * fused into the kernel, the same as `softmax`'s) against int32 labels [N, H, W], and with
   * `gradient` d loss / d logits: [loss] or [loss, dz].
   */
  lovaszSoftmax(logits: TensorRef, logitsShape: number[], labels: TensorRef, labelsShape: number[], ignoreIndex: number, perImage: boolean, allClasses: boolean, gradient: boolean): number[];
  binary(op: number, a: TensorRef, aShape: number[], b: TensorRef, bShape: number[]): number;
  unary(op: number, x: TensorRef, xShape: number[], alpha: number): number;
  cast(x: TensorRef, xShape: number[], dtype: number): number;
  reduce(op: number, x: TensorRef, xShape: number[], axes: number[], keepDims: boolean): number;
  softmax(x: TensorRef, xShape: number[], dim: number): number;
  concat(xs: TensorRef[], shapes: number[][], axis: number): number;
  split(x: TensorRef, xShape: number[], sizes: number[], axis: number): number[];
  slice(x: TensorRef, xShape: number[], begin: number[], size: number[]): number;
  transpose(x: TensorRef, xShape: number[], perm: number[]): number;
  /** paddings flat: [before0, after0, before1, after1, ...]. */
  pad(x: TensorRef, xShape: number[], paddings: number[], value: number): number;
  tile(x: TensorRef, xShape: number[], reps: number[]): number;
  /** Half-pixel centres unless alignCorners. */
  resizeBilinear(x: TensorRef, xShape: number[], height: number, width: number, alignCorners: boolean): number;
  resizeBilinearGrad(dy: TensorRef, dyShape: number[], imageShape: number[], alignCorners: boolean): number;
  matmul(a: TensorRef, aShape: number[], b: TensorRef, bShape: number[], transposeA: boolean, transposeB: boolean): number;
  addN(xs: TensorRef[], shapes: number[][]): number;
  read(id: number, out: Float32Array | Int32Array | Uint8Array): void;
  release(id: number): void;
  /** [live tensors, their bytes]. */
  stats(): [number, number];
  /**
   * The caching allocator's counters (native/seg-torch/src/alloc.cc): [large requests served from
   * the cache, large requests that were not, blocks given back to malloc, bytes cached now, the
   * limit in bytes (0: the cache is off, SEG_TORCH_CACHE_MB=0), bytes of large blocks held by
   * tensors now, and at most since the previous call].
   */
  allocStats(): [number, number, number, number, number, number, number];
  setNumThreads(n: number): void;
  numThreads(): number;
  /** Threads seg's own parallel loops (at::parallel_for in the addon) actually ran on, at numThreads(). */
  parallelThreads(): number;
  /**
   * Whether seg's AVX2 loops (the Lovász-Softmax candidate scan, softmax eight rows at once) run
   * instead of their portable twins, which give the same bits; with an argument, turn them on (where
   * the CPU has AVX2) or off and get the previous setting. SEG_TORCH_AVX2=0 starts with them off.
   */
  avx2(on?: boolean): boolean;
  /** e.g. "libtorch 1.13.0, oneDNN, AVX2". */
  config(): string;
}

/** The addon, or why it is not available. */
export type AddonStatus = { addon: TorchAddon; error?: undefined } | { addon?: undefined; error: string };

let status: AddonStatus | undefined;

/** Load the addon once per process (never throws). */
export function loadTorchAddon(): AddonStatus {
  if (status) return status;
  if (process.env['SEG_TORCH'] === '0') return (status = { error: 'disabled by SEG_TORCH=0' });
  try {
    const require = createRequire(import.meta.url);
    const addon = require('seg-torch') as TorchAddon;
    if (typeof addon.conv2d !== 'function') return (status = { error: 'the seg-torch package does not export the expected functions' });
    return (status = { addon });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    return (status = { error: /Cannot find module 'seg-torch'/.test(msg) ? 'the optional seg-torch package is not installed' : `seg-torch is installed but does not load: ${msg}` });
  }
}
