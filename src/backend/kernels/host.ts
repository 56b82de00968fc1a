/**
 * A small, backend-neutral view of the two tfjs backends seg registers kernels on (`wasm` and
 * `cpu`), so that one kernel body serves both: allocate an output, get a Float32Array over a
 * tensor's data without copying, call another kernel of the same backend, free an intermediate.
 *
 * wasm: tensor data lives in the wasm heap; `f32()` returns a view into it. Any allocation
 * (`alloc`, or a nested kernel call) may grow the heap and detach earlier views, so a kernel
 * allocates everything first and takes its views afterwards.
 * cpu:  tensor data is a JS typed array held by the backend; `f32()` returns it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The names of the backends seg registers kernels on. */
export type HostName = 'wasm' | 'cpu';

/** The parts of tfjs-backend-wasm's BackendWasm that seg's kernels use. */
export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: unknown }; wasmMemory?: unknown };
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  dataIdMap: { get(dataId: object): { memoryOffset: number; id: number } | undefined };
}

/** The parts of tfjs-backend-cpu's MathBackendCPU that seg's kernels use. */
export interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: 'float32' | 'int32' | 'bool', values?: Float32Array | Int32Array): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
}

/** Kernel-side helper bound to one backend instance. */
export interface Host {
  readonly name: HostName;
  readonly backend: object;
  /** A new float32 tensor of `shape`, zero-filled. */
  alloc(shape: number[]): TensorInfo;
  /** A new tensor of `shape` (float32 unless said) whose content the caller overwrites entirely (not zeroed). */
  allocUninit(shape: number[], dtype?: 'float32' | 'int32'): TensorInfo;
  /** A Float32Array over `t`'s data, no copy. On wasm: re-take after any allocation. */
  f32(t: TensorInfo): Float32Array;
  /** An Int32Array over an int32 tensor's data, no copy. */
  i32(t: TensorInfo): Int32Array;
  /** Free an intermediate result. */
  dispose(t: TensorInfo): void;
  /** Run the kernel `name` as registered now for this backend (no tape, no engine bookkeeping). */
  run(name: string, inputs: NamedTensorInfoMap, attrs?: NamedAttrMap): TensorInfo;
  /** Byte offset of `t`'s data in the wasm heap (wasm). */
  ptr(t: TensorInfo): number;
  /** The WebAssembly.Memory holding the tensors' data (wasm); undefined on cpu. */
  wasmMemory(): unknown;
}

function isWasm(b: object): b is WasmBackendLike {
  return typeof (b as Partial<WasmBackendLike>).typedArrayFromHeap === 'function';
}

function runKernel(hostName: HostName, backend: object, name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
  const k = tf.getKernel(name, hostName);
  if (!k) throw new Error(`seg kernels: kernel ${name} is not registered for ${hostName}`);
  const out = k.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`seg kernels: kernel ${name} returned several outputs`);
  return out;
}

const hosts = new WeakMap<object, Host>();

/** The Host for a backend instance (`wasm` or `cpu`), created once per instance. */
export function hostFor(backend: object): Host {
  const cached = hosts.get(backend);
  if (cached) return cached;
  let h: Host;
  if (isWasm(backend)) {
    const b = backend;
    h = {
      name: 'wasm',
      backend: b,
      alloc(shape) {
        const t = b.makeOutput(shape, 'float32');
        (b.typedArrayFromHeap(t) as Float32Array).fill(0);
        return t;
      },
      allocUninit: (shape, dtype = 'float32') => b.makeOutput(shape, dtype),
      f32(t) {
        if (t.dtype !== 'float32') throw new Error(`seg kernels: expected a float32 tensor, got ${t.dtype}`);
        return b.typedArrayFromHeap(t) as Float32Array;
      },
      i32(t) {
        if (t.dtype !== 'int32') throw new Error(`seg kernels: expected an int32 tensor, got ${t.dtype}`);
        return b.typedArrayFromHeap(t) as Int32Array;
      },
      dispose: (t) => void b.disposeData(t.dataId),
      run: (name, inputs, attrs = {}) => runKernel('wasm', b, name, inputs, attrs),
      ptr(t) {
        const d = b.dataIdMap.get(t.dataId);
        if (!d) throw new Error('seg kernels: tensor data not found on the wasm backend');
        return d.memoryOffset;
      },
      wasmMemory: () => b.wasm.asm?.memory ?? b.wasm.wasmMemory, // exported (stock build) or imported (threaded build)
    };
  } else {
    const b = backend as CpuBackendLike;
    h = {
      name: 'cpu',
      backend: b,
      alloc: (shape) => b.makeTensorInfo(shape, 'float32', new Float32Array(sizeOf(shape))),
      allocUninit: (shape, dtype = 'float32') =>
        b.makeTensorInfo(shape, dtype, dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape))),
      f32(t) {
        const v = b.data.get(t.dataId)?.values;
        if (!(v instanceof Float32Array)) throw new Error(`seg kernels: expected float32 data, got ${t.dtype}`);
        return v;
      },
      i32(t) {
        const v = b.data.get(t.dataId)?.values;
        if (!(v instanceof Int32Array)) throw new Error(`seg kernels: expected int32 data, got ${t.dtype}`);
        return v;
      },
      dispose: (t) => b.disposeIntermediateTensorInfo(t),
      run: (name, inputs, attrs = {}) => runKernel('cpu', b, name, inputs, attrs),
      ptr() {
        throw new Error('seg kernels: ptr() is wasm-only');
      },
      wasmMemory: () => undefined,
    };
  }
  hosts.set(backend, h);
  return h;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A TensorInfo that shares `t`'s data under another shape of the same size (no copy, no refcount). */
export function reshaped(t: TensorInfo, shape: number[]): TensorInfo {
  if (sizeOf(shape) !== sizeOf(t.shape)) throw new Error(`seg kernels: cannot view [${t.shape}] as [${shape}]`);
  return { dataId: t.dataId, shape, dtype: t.dtype };
}
