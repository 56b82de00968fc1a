/**
 * Memory the losses reuse between calls, and reading tensors without a fresh copy.
 *
 * The Lovász losses work on the CPU on arrays as large as the logits (8×512×512×21 float32 is
 * 176 MB). Allocating such arrays anew every step costs more than the work done in them: fresh
 * pages are faulted in (and zeroed) on first touch, which on a VM can take milliseconds per MB.
 * So the losses take their scratch arrays from one grow-only workspace, which keeps the largest
 * size seen until `releaseLossBuffers()` is called.
 *
 * The workspace is only used within one synchronous loss call: nothing kept past the call (a
 * gradient, a closure) may point into it. Tensors made from workspace arrays go through
 * `tensorFrom`, which copies where the backend would otherwise keep the array itself (cpu).
 */
import * as tf from '@tensorflow/tfjs-core';

type ArrayKind = Float32Array | Float64Array | Int32Array | Uint32Array | Uint16Array;

const arrays = new Map<string, ArrayKind>();

function get<T extends ArrayKind>(name: string, n: number, make: (n: number) => T): T {
  const a = arrays.get(name) as T | undefined;
  if (a !== undefined && a.length >= n) return a.subarray(0, n) as T;
  const fresh = make(n);
  arrays.set(name, fresh);
  return fresh;
}

/**
 * Scratch arrays by name (one name, one element type): contents are left over from the previous
 * use, so fill them first.
 */
export const scratch = {
  f32: (name: string, n: number): Float32Array => get(`f32:${name}`, n, (k) => new Float32Array(k)),
  f64: (name: string, n: number): Float64Array => get(`f64:${name}`, n, (k) => new Float64Array(k)),
  i32: (name: string, n: number): Int32Array => get(`i32:${name}`, n, (k) => new Int32Array(k)),
  u32: (name: string, n: number): Uint32Array => get(`u32:${name}`, n, (k) => new Uint32Array(k)),
  u16: (name: string, n: number): Uint16Array => get(`u16:${name}`, n, (k) => new Uint16Array(k)),
};

/**
 * Free the scratch memory the losses keep between calls (up to a few times the size of the
 * largest logits seen). The next call allocates it again.
 */
export function releaseLossBuffers(): void {
  arrays.clear();
}

/** The part of tfjs-backend-wasm's BackendWasm used here (a public method of that class). */
interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function heapBackend(): HeapBackend | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof b.typedArrayFromHeap === 'function' ? (b as HeapBackend) : undefined;
}

/**
 * The values of a float32 or int32 tensor without a fresh copy where the backend allows it: on
 * wasm a view into its heap, on cpu the backend's own array; elsewhere dataSync(). Read-only, and
 * on wasm valid only until the next tensor is allocated: copy out what must last.
 */
export function peek(t: tf.Tensor): Float32Array | Int32Array {
  const h = heapBackend();
  if (h) return h.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array | Int32Array;
  return t.dataSync() as Float32Array | Int32Array;
}

/** A float32 tensor with the values of `values` (copied where the backend would keep the array). */
export function tensorFrom(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'cpu' ? values.slice() : values, shape, 'float32');
}
