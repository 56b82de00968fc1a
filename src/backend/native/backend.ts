/**
 * The `torch` tfjs backend: tfjs-backend-cpu's MathBackendCPU whose tensors may live in libtorch.
 *
 * A tensor made by a native kernel is a NativeData entry in the backend's data store: it holds the
 * addon's tensor id and no JavaScript copy. Native kernels pass ids to the addon, so chains of native
 * kernels never copy data into JavaScript. Every other kernel is tfjs's own cpu kernel (re-registered
 * for `torch`), which reads `data.get(id).values`: for a NativeData that getter copies the tensor out
 * of libtorch once and caches it. Tensors created from JavaScript (tf.tensor, cpu kernels) stay plain
 * entries and are read by the addon in place. disposeData frees the libtorch tensor at once (tfjs's
 * reference counting decides when), so memory does not wait for the garbage collector.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { DataType, TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import { type TensorRef, type TorchAddon } from './addon.js';

type BackendValues = backend_util.BackendValues;
type Typed = Float32Array | Int32Array | Uint8Array;

/** An uninitialised typed array of `size` elements of `dtype` (the addon overwrites it entirely). */
function uninit(dtype: DataType, size: number): Typed {
  const bytes = dtype === 'bool' ? size : size * 4;
  const buf = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
  if (dtype === 'float32') return new Float32Array(buf, 0, size);
  if (dtype === 'int32') return new Int32Array(buf, 0, size);
  if (dtype === 'bool') return new Uint8Array(buf, 0, size);
  throw new Error(`torch backend: no native tensors of dtype ${dtype}`);
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A tensor held by libtorch; `values` copies it into JavaScript on first use. */
export class NativeData {
  refCount = 1;
  private cached: BackendValues | undefined;

  constructor(
    private readonly owner: TorchBackend,
    readonly id: number,
    readonly dtype: DataType,
    readonly size: number,
  ) {}

  get values(): BackendValues {
    if (!this.cached) {
      const out = uninit(this.dtype, this.size);
      this.owner.addon.read(this.id, out);
      this.owner.materialisations++;
      this.cached = out;
    }
    return this.cached;
  }

  /** Whether a JavaScript copy was made (tests and profiling). */
  get materialised(): boolean {
    return this.cached !== undefined;
  }
}

/** The view of a value array in the dtype a TensorInfo declares (tfjs's cpu Cast shares int32 data as float32). */
function asDtype(v: BackendValues | undefined, dtype: DataType): Typed {
  if (v === undefined || Array.isArray(v)) throw new Error(`torch backend: tensor has no numeric data (${dtype})`);
  if (dtype === 'float32') return v instanceof Float32Array ? v : Float32Array.from(v);
  if (dtype === 'int32') return v instanceof Int32Array ? v : Int32Array.from(v);
  if (dtype === 'bool') return v instanceof Uint8Array ? v : Uint8Array.from(v, (x) => (x !== 0 ? 1 : 0));
  throw new Error(`torch backend: native kernels do not take ${dtype} tensors`);
}

let nextId = 0;

export class TorchBackend extends MathBackendCPU {
  /** JavaScript copies made of native tensors (each is one `read` from libtorch): reads and fallback kernels. */
  materialisations = 0;

  constructor(readonly addon: TorchAddon) {
    super();
  }

  /** The addon argument for `t`: its libtorch id, or its JavaScript data in `t`'s dtype. */
  ref(t: TensorInfo): TensorRef {
    const d = this.data.get(t.dataId);
    if (d instanceof NativeData && d.dtype === t.dtype) return d.id;
    return asDtype(d.values, t.dtype);
  }

  /** Whether `t`'s data is held by libtorch. */
  isNative(t: TensorInfo): boolean {
    return this.data.get(t.dataId) instanceof NativeData;
  }

  /** A TensorInfo for the addon result `id`. */
  fromNative(id: number, shape: number[], dtype: DataType): TensorInfo {
    const dataId = { id: `torch${nextId++}` };
    this.data.set(dataId, new NativeData(this, id, dtype, sizeOf(shape)));
    return { dataId, shape, dtype };
  }

  override disposeData(dataId: object, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const d = this.data.get(dataId);
    const freed = super.disposeData(dataId, force);
    if (freed && d instanceof NativeData) this.addon.release(d.id);
    return freed;
  }

  override memory(): { unreliable: boolean; reasons: string[]; nativeTensors: number; nativeBytes: number } {
    const [nativeTensors, nativeBytes] = this.addon.stats();
    return { unreliable: true, reasons: ['JavaScript-held data is garbage-collected; nativeBytes counts the tensors held by libtorch'], nativeTensors, nativeBytes };
  }
}
