/**
 * Helpers of the native (`torch`) backend tests: whether the addon is installed (the tests skip with
 * a clear reason when it is not), running one kernel on the torch backend with inputs held either by
 * JavaScript or by libtorch, and on the cpu backend for reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { registerTorchBackend, TORCH_BACKEND, TorchBackend, torchStatus } from '../../src/backend/native/index.js';

const status = torchStatus();

/** Set by CI (`.ci/run`), where libtorch is installed: a missing addon then fails the native tests instead of skipping them. */
export const REQUIRE_NATIVE = process.env['SEG_REQUIRE_TORCH'] === '1';

/** `skip` option of the native tests: false when the addon loads (or SEG_REQUIRE_TORCH=1), else why not. */
export const SKIP_NATIVE: string | false = status.available || REQUIRE_NATIVE ? false : `native backend not installed: ${status.reason}`;

/** Why the addon does not load (empty when it does). */
export const NATIVE_PROBLEM = status.available ? '' : status.reason;

/** A dense array with a shape and a tfjs dtype. */
export interface TArr {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
  dtype: 'float32' | 'int32' | 'bool';
}

export const f32 = (shape: number[], data: Float32Array): TArr => ({ shape, data, dtype: 'float32' });
export const i32 = (shape: number[], data: Int32Array): TArr => ({ shape, data, dtype: 'int32' });

/** Register the torch backend and seg's cpu kernels (references); returns the torch backend instance. */
export async function setupTorch(): Promise<TorchBackend> {
  tf.env().set('PROD', true); // as initBackend does: no "install tfjs-node" banner from the cpu backends
  await registerTorchBackend(2);
  await registerTrainingKernels('cpu');
  const b = tf.engine().findBackend(TORCH_BACKEND);
  if (!(b instanceof TorchBackend)) throw new Error('torch backend not initialised');
  return b;
}

/** setupTorch, then make `torch` the active backend through initBackend (as `seg --backend torch` does). */
export async function activateTorch(): Promise<void> {
  await setupTorch();
  const info = await initBackend({ backend: 'torch', threads: 2 });
  if (info.name !== TORCH_BACKEND) throw new Error(`initBackend chose ${info.name}, not ${TORCH_BACKEND}`);
}

export function torchBackend(): TorchBackend {
  const b = tf.engine().findBackend(TORCH_BACKEND);
  if (!(b instanceof TorchBackend)) throw new Error('torch backend not initialised');
  return b;
}

interface Writable {
  write(values: TArr['data'], shape: number[], dtype: TArr['dtype']): object;
  readSync(dataId: object): unknown;
  disposeData(dataId: object, force?: boolean): boolean;
  numDataIds(): number;
}

function read(b: Writable, t: TensorInfo): TArr {
  const v = b.readSync(t.dataId) as TArr['data'];
  const dtype = t.dtype as TArr['dtype'];
  const data = dtype === 'float32' ? Float32Array.from(v) : dtype === 'int32' ? Int32Array.from(v) : Uint8Array.from(v);
  if (data.length !== t.shape.reduce((p, q) => p * q, 1)) throw new Error(`output has ${data.length} values for shape [${t.shape}]`);
  return { shape: [...t.shape], data, dtype };
}

type Inputs = Record<string, TArr> | TArr[];

function run(b: Writable, k: KernelFunc, inputs: Inputs, attrs: NamedAttrMap, prepare: (t: TensorInfo) => TensorInfo, check: () => void): TArr[] {
  const infos: TensorInfo[] = [];
  const named: Record<string, TensorInfo> = {};
  for (const [key, a] of Object.entries(inputs)) {
    const t = prepare({ dataId: b.write(a.data, a.shape, a.dtype), shape: [...a.shape], dtype: a.dtype });
    infos.push(t);
    named[key] = t;
  }
  const out = k({ inputs: (Array.isArray(inputs) ? infos : named) as unknown as NamedTensorInfoMap, backend: b, attrs });
  const outs = Array.isArray(out) ? out : [out];
  const res = outs.map((t) => read(b, t));
  for (const t of [...outs, ...infos]) b.disposeData(t.dataId);
  check();
  return res;
}

/** Run the cpu kernel function `k` (stock or seg's) on plain inputs. */
export function runCpu(k: KernelFunc, inputs: Inputs, attrs: NamedAttrMap = {}): TArr[] {
  const b = tf.engine().findBackend('cpu') as unknown as Writable;
  const n0 = b.numDataIds();
  return run(b, k, inputs, attrs, (t) => t, () => {
    if (b.numDataIds() !== n0) throw new Error(`cpu kernel left ${b.numDataIds() - n0} buffers`);
  });
}

/**
 * Run the torch kernel `name` as registered. `native`: the inputs are first moved into libtorch
 * (through the native Transpose with the identity permutation), so that the kernel reads addon ids
 * rather than JavaScript arrays. Checks that neither the backend nor libtorch keeps anything.
 */
export function runTorch(name: string, inputs: Inputs, attrs: NamedAttrMap = {}, native = false): TArr[] {
  const tb = torchBackend();
  const b = tb as unknown as Writable;
  const k = tf.getKernel(name, TORCH_BACKEND)?.kernelFunc;
  if (!k) throw new Error(`${name} is not registered for torch`);
  const n0 = b.numDataIds();
  const [live0] = tb.addon.stats();
  const transpose = tf.getKernel('Transpose', TORCH_BACKEND)!.kernelFunc;
  const toNative = (t: TensorInfo): TensorInfo => {
    if (!native || t.dtype === 'bool' || t.shape.reduce((p, q) => p * q, 1) === 0) return t;
    const out = transpose({ inputs: { x: t }, backend: tb, attrs: { perm: t.shape.map((_, i) => i) } }) as TensorInfo;
    tb.disposeData(t.dataId);
    if (!tb.isNative(out)) throw new Error('input did not move into libtorch');
    return out;
  };
  return run(b, k, inputs, attrs, toNative, () => {
    if (b.numDataIds() !== n0) throw new Error(`torch kernel ${name} left ${b.numDataIds() - n0} buffers`);
    const [live] = tb.addon.stats();
    if (live !== live0) throw new Error(`torch kernel ${name} left ${live - live0} libtorch tensors`);
  });
}

/** max |a − b| / max |b| (max-norm relative error); exact for integer and bool arrays. */
export function rel(a: TArr, b: TArr): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape}] vs reference [${b.shape}]`);
  if (a.dtype !== b.dtype) throw new Error(`dtype ${a.dtype} vs reference ${b.dtype}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
    if (Number.isNaN(y)) continue;
    num = Math.max(num, Math.abs(x - y));
    den = Math.max(den, Math.abs(y));
  }
  return den === 0 ? num : num / den;
}

/** Σ a·b in float64. */
export function dot(a: TArr, b: TArr): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

export function sumAbsProd(a: TArr, b: TArr): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! * b.data[i]!);
  return s;
}
