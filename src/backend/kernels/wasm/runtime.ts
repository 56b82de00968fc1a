/**
 * Access to seg's SIMD module (simd.ts) from kernel bodies: one instance per tfjs wasm backend,
 * sharing its memory, plus scratch buffers on the wasm heap. Set SEG_WASM_SIMD=0 (or
 * `simdSettings.enabled = false`) to run the JS loops instead, e.g. to compare them.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Host, WasmBackendLike } from '../host.js';
import { instantiateSimd, type SimdExports } from './simd.js';

/** Global switch for the SIMD kernels. */
export const simdSettings = { enabled: process.env['SEG_WASM_SIMD'] !== '0' };

const instances = new WeakMap<object, SimdExports | null>();

/** The SIMD kernels for `h`'s wasm backend, or undefined (cpu backend, disabled, or unavailable). */
export function simdFor(h: Host): SimdExports | undefined {
  if (!simdSettings.enabled || h.name !== 'wasm') return undefined;
  const cached = instances.get(h.backend);
  if (cached !== undefined) return cached ?? undefined;
  const w = (h.backend as WasmBackendLike).wasm;
  const memory = w.asm?.memory ?? w.wasmMemory; // exported (stock build) or imported (threaded build)
  const inst = memory === undefined ? undefined : instantiateSimd(memory);
  instances.set(h.backend, inst ?? null);
  return inst;
}

/** A scratch area of float32 slots on the wasm heap, 8-byte aligned (for float64 views). */
export class Scratch {
  private readonly t: TensorInfo;
  /** Byte address of slot 0. */
  readonly base: number;

  constructor(
    private readonly h: Host,
    floats: number,
  ) {
    this.t = h.allocUninit([floats + 2]);
    this.base = Math.ceil(h.ptr(this.t) / 8) * 8;
  }

  /** Byte address of float slot i. */
  addr(i: number): number {
    return this.base + 4 * i;
  }

  /** Float32 view of slots [i, i + n) (re-take after any allocation). */
  f32(i: number, n: number): Float32Array {
    const buf = this.h.f32(this.t).buffer;
    return new Float32Array(buf, this.addr(i), n);
  }

  /** Float64 view of n doubles starting at float slot i (i even). */
  f64(i: number, n: number): Float64Array {
    const buf = this.h.f32(this.t).buffer;
    return new Float64Array(buf, this.addr(i), n);
  }

  dispose(): void {
    this.h.dispose(this.t);
  }
}
