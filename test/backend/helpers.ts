/**
 * Helpers for the kernel equivalence tests: seeded random arrays, running one kernel function on
 * one backend instance with plain Float32Array inputs (no engine, no tape), error measures and
 * independent references (dilated filters expanded with zeros, bilinear interpolation matrices).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { Rng } from '../../src/util/rng.js';

/** A dense float32 array with a shape. */
export interface Arr {
  shape: number[];
  data: Float32Array;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uniform(-1, 1) values from a seeded generator. */
export function rand(rng: Rng, shape: number[]): Arr {
  const data = new Float32Array(size(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-1, 1);
  return { shape, data };
}

interface BackendWithData {
  write(values: Float32Array, shape: number[], dtype: 'float32'): object;
  readSync(dataId: object): unknown;
  disposeData(dataId: object, force?: boolean): boolean;
  numDataIds(): number;
}

/** The initialised backend instance `name` (wasm must have been set up with tf.setBackend first). */
export function backendInstance(name: 'cpu' | 'wasm'): BackendWithData {
  const b = tf.engine().findBackend(name);
  if (!b) throw new Error(`backend ${name} is not initialised`);
  return b as unknown as BackendWithData;
}

/**
 * Run kernel function `k` on backend `name` with the given inputs and attributes; returns the
 * output as a fresh Float32Array and checks that the kernel left no data behind on the backend.
 */
export function runKernel(name: 'cpu' | 'wasm', k: KernelFunc, inputs: Record<string, Arr>, attrs: NamedAttrMap): Arr {
  const be = backendInstance(name);
  const before = be.numDataIds();
  const infos: Record<string, TensorInfo> = {};
  for (const [key, a] of Object.entries(inputs)) {
    infos[key] = { dataId: be.write(a.data, a.shape, 'float32'), shape: a.shape, dtype: 'float32' };
  }
  const out = k({ inputs: infos, backend: be, attrs });
  if (Array.isArray(out)) throw new Error('multi-output kernel');
  const data = Float32Array.from(be.readSync(out.dataId) as Float32Array);
  be.disposeData(out.dataId);
  for (const t of Object.values(infos)) be.disposeData(t.dataId);
  const leaked = be.numDataIds() - before;
  if (leaked !== 0) throw new Error(`kernel left ${leaked} data buffers on ${name}`);
  if (data.length !== size(out.shape)) throw new Error(`output has ${data.length} values for shape [${out.shape}]`);
  return { shape: [...out.shape], data };
}

/** The registered kernel function for (kernel, backend). */
export function registered(kernel: string, backend: 'cpu' | 'wasm'): KernelFunc {
  const k = tf.getKernel(kernel, backend);
  if (!k) throw new Error(`${kernel} is not registered for ${backend}`);
  return k.kernelFunc;
}

/** max |a − b| / max |b| (max-norm relative error); shapes must match. */
export function relErr(a: Arr, b: Arr): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape}] vs reference [${b.shape}]`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.data.length; i++) {
    num = Math.max(num, Math.abs(a.data[i]! - b.data[i]!));
    den = Math.max(den, Math.abs(b.data[i]!));
  }
  if (den === 0) return num;
  return num / den;
}

/** Σ a·b in float64. */
export function dot(a: Arr, b: Arr): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** A [KH, KW, I, O] filter with dilation (dh, dw) turned into the equivalent undilated filter. */
export function expandFilter(w: Arr, dh: number, dw: number): Arr {
  const [KH, KW, I, O] = w.shape as [number, number, number, number];
  const EH = (KH - 1) * dh + 1;
  const EW = (KW - 1) * dw + 1;
  const out = new Float32Array(EH * EW * I * O);
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const src = (ky * KW + kx) * I * O;
      const dst = (ky * dh * EW + kx * dw) * I * O;
      out.set(w.data.subarray(src, src + I * O), dst);
    }
  }
  return { shape: [EH, EW, I, O], data: out };
}

/** The taps of a filter gradient over the expanded (undilated) filter, picked back at the dilated positions. */
export function contractFilter(e: Arr, KH: number, KW: number, dh: number, dw: number): Arr {
  const [, EW, I, O] = e.shape as [number, number, number, number];
  const out = new Float32Array(KH * KW * I * O);
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const src = (ky * dh * EW + kx * dw) * I * O;
      out.set(e.data.subarray(src, src + I * O), (ky * KW + kx) * I * O);
    }
  }
  return { shape: [KH, KW, I, O], data: out };
}
