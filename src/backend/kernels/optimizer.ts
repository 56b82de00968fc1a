/**
 * One optimiser update per variable as a single kernel (SegOptimizerStep), for src/train/optimizer.ts:
 * seg's Adam update would be ~14 tfjs kernel calls per variable (thousands per DeepLab step,
 * docs/performance.md); this is one pass over w, g, m (and v), with the same formulas in the same order:
 *   g′ = g + wd·w
 *   adam: m′ = β1·m + (1−β1)·g′;  v′ = β2·v + (1−β2)·g′²;  w′ = w − lr·(m′/bc1)/(√(v′/bc2) + ε)
 *   sgd:  m′ = μ·m + g′;          w′ = w − lr·m′
 * Kernel: inputs {w, g, m, v (adam)}, attrs {kind, lr, beta1, beta2, epsilon, bc1, bc2, weightDecay}
 * → [w′, m′, v′ (adam)]. SIMD on wasm, a JS loop elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { type Host, sizeOf } from './host.js';
import { simdFor } from './wasm/runtime.js';

/** Hyper-parameters of one update (bc1 = 1 − β1^t, bc2 = 1 − β2^t for Adam's bias correction). */
export interface OptimizerStepAttrs {
  kind: 'adam' | 'sgd';
  lr: number;
  /** Adam β1, or SGD's momentum. */
  beta1: number;
  beta2: number;
  epsilon: number;
  bc1: number;
  bc2: number;
  weightDecay: number;
}

/** Kernel body. */
export function optimizerStepKernel(h: Host, w: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo | undefined, a: OptimizerStepAttrs): TensorInfo[] {
  const n = sizeOf(w.shape);
  const adam = a.kind === 'adam';
  if (adam && !v) throw new Error('SegOptimizerStep: adam needs v');
  const wo = h.allocUninit([...w.shape]);
  const mo = h.allocUninit([...w.shape]);
  const vo = adam ? h.allocUninit([...w.shape]) : undefined;
  const k = simdFor(h);
  if (k) {
    if (adam) k.opt_adam(h.ptr(w), h.ptr(g), h.ptr(m), h.ptr(v!), h.ptr(wo), h.ptr(mo), h.ptr(vo!), n, a.lr, a.beta1, a.beta2, 1 - a.beta1, 1 - a.beta2, a.epsilon, a.bc1, a.bc2, a.weightDecay);
    else k.opt_sgd(h.ptr(w), h.ptr(g), h.ptr(m), h.ptr(wo), h.ptr(mo), n, a.lr, a.beta1, a.weightDecay);
    return vo ? [wo, mo, vo] : [wo, mo];
  }
  const f = Math.fround;
  const [wv, gv, mv, wov, mov] = [h.f32(w), h.f32(g), h.f32(m), h.f32(wo), h.f32(mo)];
  const [lr, b1, b2, eps, bc1, bc2, wd] = [a.lr, a.beta1, a.beta2, a.epsilon, a.bc1, a.bc2, a.weightDecay].map(f) as [number, number, number, number, number, number, number];
  if (adam) {
    const vv = h.f32(v!);
    const vov = h.f32(vo!);
    const c1 = f(1 - a.beta1);
    const c2 = f(1 - a.beta2);
    for (let i = 0; i < n; i++) {
      const gi = f(gv[i]! + f(wd * wv[i]!));
      const mi = f(f(b1 * mv[i]!) + f(c1 * gi));
      const vi = f(f(b2 * vv[i]!) + f(c2 * f(gi * gi)));
      mov[i] = mi;
      vov[i] = vi;
      wov[i] = wv[i]! - f(lr * f(f(mi / bc1) / f(f(Math.sqrt(f(vi / bc2))) + eps)));
    }
    return [wo, mo, vo!];
  }
  for (let i = 0; i < n; i++) {
    const mi = f(f(b1 * mv[i]!) + f(gv[i]! + f(wd * wv[i]!)));
    mov[i] = mi;
    wov[i] = wv[i]! - f(lr * mi);
  }
  return [wo, mo];
}

/**
 * The updated weight and slots for one variable (new tensors; the caller assigns them and
 * disposes). Needs registerTrainingKernels for the active backend; use the tf.* formulas otherwise.
 */
export function optimizerStep(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor | undefined, attrs: OptimizerStepAttrs): { w: tf.Tensor; m: tf.Tensor; v?: tf.Tensor } {
  const inputs: tf.NamedTensorMap = v ? { w, g, m, v } : { w, g, m };
  const out = tf.engine().runKernel('SegOptimizerStep', inputs, { ...attrs }) as tf.Tensor[];
  return out[2] ? { w: out[0]!, m: out[1]!, v: out[2] } : { w: out[0]!, m: out[1]! };
}
