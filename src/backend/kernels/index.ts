/**
 * seg's own kernels and gradients, registered on top of a stock tfjs backend so that it can train
 * (stock wasm lacks Conv2DBackpropFilter and the depthwise backprop kernels) and train fast.
 *
 * Registered for `wasm` and `cpu` (the same code serves both, see host.ts):
 *   Conv2DBackpropFilter, Conv2DBackpropInput     im2col/col2im + the backend's GEMM (conv.ts)
 *   DepthwiseConv2dNativeBackpropFilter/Input      direct loops (depthwise.ts)
 *   ResizeBilinearGrad                              exact adjoint incl. halfPixelCenters (resize.ts)
 *   SegBatchNormActForward/Backward                 fused training-mode BN + activation (batchnorm.ts)
 *   SegMovingStats                                  BN's moving-statistics update in one call (batchnorm.ts)
 * on wasm only, for speed (stock versions are correct but slow):
 *   Identity                                        data shared, reference counted
 *   Conv2D, FusedConv2D                             pointwise ones on seg's GEMM (conv.ts)
 *   Transpose, Sum, Mean, SplitV                    (layout.ts)
 * and, process-wide, Conv2D/DepthwiseConv2dNative gradients that allow dilation (gradients.ts).
 * On wasm, the op layer's convBnAct/depthwiseBnAct are switched to the fused kernels (fast_ops.ts).
 * The hot loops run as WebAssembly SIMD generated at run time (wasm/), with JS fallbacks.
 * Cases seg's kernels do not handle (NCHW, non-float32) go to the stock kernel where there is one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dPointwise, convAttrs, convSupported, type GemmActivation } from './conv.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './depthwise.js';
import { registerSegGradients } from './gradients.js';
import { type Host, type HostName, hostFor } from './host.js';
import { bnActBackward, bnActForward, type FusedActivation, movingStatsKernel } from './batchnorm.js';
import { reduceKernel, splitKernel, transposeKernel } from './layout.js';
import { registerLovaszSoftmaxKernel } from './lovasz.js';
import { type OptimizerStepAttrs, optimizerStepKernel } from './optimizer.js';
import { resizeBilinearGrad } from './resize.js';
import { registerTfjsGradients } from './tfjs_gradients.js';

type Shape4 = [number, number, number, number];

/** One kernel body: gets the host, the inputs and attributes, and the stock kernel (if any) to fall back to. */
type SegKernel = (h: Host, inputs: NamedTensorInfoMap, attrs: NamedAttrMap, stock: KernelFunc | undefined) => TensorInfo | TensorInfo[];

function need(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`seg kernels: missing input ${name}`);
  return t;
}

function unsupported(kernel: string, stock: KernelFunc | undefined, why: string): KernelFunc {
  if (stock) return stock;
  throw new Error(`${kernel}: ${why} is not supported`);
}

const KERNELS: Readonly<Record<string, SegKernel>> = Object.freeze({
  Conv2DBackpropFilter(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    const dy = need(inputs, 'dy');
    const a = convAttrs(attrs);
    if (!convSupported(a, x, dy)) return call(unsupported('Conv2DBackpropFilter', stock, 'NCHW or non-float32'), h, inputs, attrs);
    return conv2dBackpropFilter(h, x, dy, attrs['filterShape'] as Shape4, a);
  },
  Conv2DBackpropInput(h, inputs, attrs, stock) {
    const dy = need(inputs, 'dy');
    const filter = need(inputs, 'filter');
    const a = convAttrs(attrs);
    if (!convSupported(a, dy, filter)) return call(unsupported('Conv2DBackpropInput', stock, 'NCHW or non-float32'), h, inputs, attrs);
    return conv2dBackpropInput(h, dy, filter, attrs['inputShape'] as Shape4, a);
  },
  DepthwiseConv2dNativeBackpropFilter(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    const dy = need(inputs, 'dy');
    const a = convAttrs(attrs);
    if (!convSupported(a, x, dy)) return call(unsupported('DepthwiseConv2dNativeBackpropFilter', stock, 'non-float32'), h, inputs, attrs);
    return depthwiseBackpropFilter(h, x, dy, attrs['filterShape'] as Shape4, a);
  },
  DepthwiseConv2dNativeBackpropInput(h, inputs, attrs, stock) {
    const dy = need(inputs, 'dy');
    const filter = need(inputs, 'filter');
    const a = convAttrs(attrs);
    if (!convSupported(a, dy, filter)) return call(unsupported('DepthwiseConv2dNativeBackpropInput', stock, 'non-float32'), h, inputs, attrs);
    return depthwiseBackpropInput(h, dy, filter, attrs['inputShape'] as Shape4, a);
  },
  SegBatchNormActForward(h, inputs, attrs) {
    const x = need(inputs, 'x');
    if (x.dtype !== 'float32') throw new Error('SegBatchNormActForward: float32 only');
    return bnActForward(h, x, need(inputs, 'gamma'), need(inputs, 'beta'), attrs['act'] as FusedActivation, attrs['epsilon'] as number);
  },
  SegBatchNormActBackward(h, inputs, attrs) {
    const act = attrs['act'] as FusedActivation;
    const eps = attrs['epsilon'] as number;
    return bnActBackward(h, need(inputs, 'dy'), need(inputs, 'x'), need(inputs, 'gamma'), need(inputs, 'beta'), need(inputs, 'mean'), need(inputs, 'variance'), act, eps);
  },
  SegOptimizerStep(h, inputs, attrs) {
    const w = need(inputs, 'w');
    if (w.dtype !== 'float32') throw new Error('SegOptimizerStep: float32 only');
    return optimizerStepKernel(h, w, need(inputs, 'g'), need(inputs, 'm'), inputs['v'], attrs as unknown as OptimizerStepAttrs);
  },
  SegMovingStats(h, inputs, attrs) {
    const [mm, mv, mean, variance] = (['movingMean', 'movingVariance', 'mean', 'variance'] as const).map((k) => need(inputs, k)) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
    if ([mm, mv, mean, variance].some((t) => t.dtype !== 'float32')) throw new Error('SegMovingStats: float32 only');
    return movingStatsKernel(h, mm, mv, mean, variance, attrs['momentum'] as number);
  },
  ResizeBilinearGrad(h, inputs, attrs, stock) {
    const images = need(inputs, 'images');
    const dy = need(inputs, 'dy');
    if (images.dtype !== 'float32' && images.dtype !== 'int32') return call(unsupported('ResizeBilinearGrad', stock, images.dtype), h, inputs, attrs);
    if (dy.dtype !== 'float32') return call(unsupported('ResizeBilinearGrad', stock, `dy of dtype ${dy.dtype}`), h, inputs, attrs);
    return resizeBilinearGrad(h, images, dy, attrs['alignCorners'] === true, attrs['halfPixelCenters'] === true);
  },
});

function call(k: KernelFunc, h: Host, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
  const out = k({ inputs, backend: h.backend, attrs });
  if (Array.isArray(out)) throw new Error('seg kernels: unexpected multi-output kernel');
  return out;
}

function callAny(k: KernelFunc | undefined, name: string, h: Host, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo | TensorInfo[] {
  if (!k) throw new Error(`${name}: no stock kernel to fall back to`);
  return k({ inputs, backend: h.backend, attrs });
}

/**
 * Kernels that only make the wasm backend faster (its stock versions are correct but slow); on
 * cpu the stock ones stay.
 */
const WASM_SPEED_KERNELS: Readonly<Record<string, SegKernel>> = Object.freeze({
  /**
   * tfjs clones every tensor it saves for the backward pass through Identity, which on wasm copies
   * the data (≈ 1 GB per DeepLab step at 256²). Tensors are immutable (a variable's assign swaps its
   * data id), so sharing the data with a reference count, as the cpu backend and wasm's own Reshape
   * do, is equivalent.
   */
  Identity(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    if (x.dtype === 'string') return callAny(stock, 'Identity', h, inputs, attrs);
    (h.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  },
  /** A pointwise convolution on seg's GEMM (conv.ts conv2dPointwise); any other on XNNPACK's. */
  Conv2D(h, inputs, attrs, stock) {
    return conv2dPointwise(h, need(inputs, 'x'), need(inputs, 'filter'), convAttrs(attrs)) ?? callAny(stock, 'Conv2D', h, inputs, attrs);
  },
  /** The same with a bias and relu/relu6 (inference with batch norm folded in, fast_ops.ts). */
  FusedConv2D(h, inputs, attrs, stock) {
    const act = attrs['activation'] as string;
    const fits = (act === 'linear' || act === 'relu' || act === 'relu6') && inputs['preluActivationWeights'] == null;
    const out = fits ? conv2dPointwise(h, need(inputs, 'x'), need(inputs, 'filter'), convAttrs(attrs), inputs['bias'] ?? undefined, act as GemmActivation) : undefined;
    return out ?? callAny(stock, 'FusedConv2D', h, inputs, attrs);
  },
  Transpose(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    return transposeKernel(h, x, attrs['perm'] as number[]) ?? callAny(stock, 'Transpose', h, inputs, attrs);
  },
  Sum(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    return reduceKernel(h, x, attrs['axis'] as number | number[] | null, attrs['keepDims'] === true, false) ?? callAny(stock, 'Sum', h, inputs, attrs);
  },
  Mean(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    return reduceKernel(h, x, attrs['axis'] as number | number[] | null, attrs['keepDims'] === true, true) ?? callAny(stock, 'Mean', h, inputs, attrs);
  },
  SplitV(h, inputs, attrs, stock) {
    const x = need(inputs, 'x');
    const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs['numOrSizeSplits'] as number | number[], axis);
    return splitKernel(h, x, sizes, axis) ?? callAny(stock, 'SplitV', h, inputs, attrs);
  },
});

/** The names of the kernels seg registers on every backend (for tests and the benchmark). */
export const SEG_KERNEL_NAMES: readonly string[] = Object.freeze(Object.keys(KERNELS));
/** The names of the kernels seg registers on wasm only, for speed. */
export const SEG_WASM_SPEED_KERNEL_NAMES: readonly string[] = Object.freeze(Object.keys(WASM_SPEED_KERNELS));

const stockKernels = new Map<string, KernelFunc | undefined>();
const registeredOn = new Set<string>();
const readyOn = new Map<string, Promise<void>>();

/**
 * The kernel tfjs itself registered under `name` for `backend` before seg replaced it, or
 * undefined when there was none (wasm's Conv2DBackpropFilter, ...). Only meaningful after
 * registerTrainingKernels(backend); before it, the registry holds the stock kernel anyway.
 */
export function stockKernel(name: string, backend: HostName): KernelFunc | undefined {
  const key = `${backend}/${name}`;
  if (stockKernels.has(key)) return stockKernels.get(key);
  return tf.getKernel(name, backend)?.kernelFunc;
}

/** Whether registerTrainingKernels ran for `backend`. */
export function hasTrainingKernels(backend: string): boolean {
  return registeredOn.has(backend);
}

let gradientsReady: Promise<void> | undefined;

/**
 * Register seg's kernels for `backend` (synchronously, idempotent), replacing tfjs's where it has
 * one; then, once per process, tfjs-core's gradients (which its Node bundle lacks, see
 * tfjs_gradients.ts) and seg's own gradients on top of them. Await the result before computing
 * gradients.
 */
export function registerTrainingKernels(backend: HostName): Promise<void> {
  gradientsReady ??= registerTfjsGradients().then(() => registerSegGradients(hasTrainingKernels));
  const ready = readyOn.get(backend);
  if (ready) return ready;
  // SEG_WASM_SPEED_KERNELS=0 keeps tfjs's own Conv2D/FusedConv2D/Identity/Transpose/Sum/Mean/SplitV (for comparisons)
  const speed = backend === 'wasm' && process.env['SEG_WASM_SPEED_KERNELS'] !== '0';
  const table = speed ? { ...KERNELS, ...WASM_SPEED_KERNELS } : KERNELS;
  for (const [name, body] of Object.entries(table)) {
    const prev = tf.getKernel(name, backend);
    stockKernels.set(`${backend}/${name}`, prev?.kernelFunc);
    if (prev) tf.unregisterKernel(name, backend);
    const stock = prev?.kernelFunc;
    tf.registerKernel({
      kernelName: name,
      backendName: backend,
      kernelFunc: ({ inputs, backend: b, attrs }) => body(hostFor(b), inputs, attrs ?? {}, stock),
    });
  }
  if (speed) registerLovaszSoftmaxKernel(); // SegLovaszSoftmax (lovasz.ts): the Lovász-Softmax loss in one kernel
  registeredOn.add(backend);
  // fast_ops is loaded lazily: the op layer (and the tfjs union package it imports) is not needed for `seg --help`
  const done =
    backend === 'wasm' ? Promise.all([gradientsReady, import('./fast_ops.js').then((m) => void m.installFusedOps())]).then(() => undefined) : gradientsReady;
  readyOn.set(backend, done);
  return done;
}
