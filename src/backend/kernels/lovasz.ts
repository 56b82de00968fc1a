/**
 * SegLovaszSoftmax: the Lovász-Softmax loss and its gradient in one kernel, on the wasm heap.
 *
 *   inputs  logits  float32 [N, H, W, C]  (the softmax over channels is the backend's Softmax
 *                                          kernel here, as tf.softmax runs it for the reference)
 *           labels  int32   [N, H, W]     class indices or ignoreIndex (checked by the caller)
 *   attrs   ignoreIndex (number), perImage (bool), classes ('present' | 'all'), gradient (bool)
 *   outputs [loss] or, with gradient, [loss, d loss / d logits]: a float32 scalar and float32
 *           [N, H, W, C] (through the softmax Jacobian, 0 at ignored pixels).
 *
 * It computes exactly what src/losses/lovasz_softmax_loss.ts's JavaScript computes (that file is
 * the reference and the fallback; it calls this kernel when it is registered for the active
 * backend): the same float32 errors, the same stable order, the same float64 arithmetic in the
 * same order, so the results are bit-identical. What differs is where the work happens: the
 * probabilities are read in place on the heap (no transposes on the backend, no copy to
 * JavaScript), class-major copies and sort buffers live on the heap, the loops run as generated
 * WebAssembly (wasm/lovasz_wasm.ts), the sort is a most-significant-digit pass into buckets
 * sorted while they are in cache and walked at once, and the gradient is written NHWC straight
 * into the output tensor (no upload, no transpose back).
 *
 * Registered on wasm by registerTrainingKernels with the other speed kernels
 * (SEG_WASM_SPEED_KERNELS=0 leaves the loss on its JavaScript path). The native `torch` backend has
 * the same kernel in C++ (native/seg-torch/src/lovasz.cc, the same algorithm on both cores). Not on
 * cpu, which stays the JavaScript reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
// The kernel's name is the loss's: the loss calls the kernel when one is registered for the backend.
import { LOVASZ_SOFTMAX_KERNEL, pixelSets, unsortedClassLoss } from '../../losses/lovasz_softmax_loss.js';
import { type Host, hostFor } from './host.js';
import { Worker } from 'node:worker_threads';
import { callExport, JOB_FLOATS, JOB_INTS, type JobAreas, type JobQueue, makeQueue, type RangePass, runJobs } from './wasm/lovasz_jobs.js';
import { BACKWARD_BLOCK, HIST_SLOTS, instantiateLovasz, type LovaszExports } from './wasm/lovasz_wasm.js';
import type { HelperMessage } from './wasm/lovasz_worker.js';
import { simdSettings } from './wasm/runtime.js';

export { LOVASZ_SOFTMAX_KERNEL };

/** The kernel's attributes. */
export interface LovaszSoftmaxAttrs {
  ignoreIndex: number;
  perImage: boolean;
  classes: 'present' | 'all';
  gradient: boolean;
}

/**
 * CPU milliseconds of this process per stage, summed over calls while `enabled` (for
 * bench/losses.ts --stages): compact (probabilities to class-major copies), count (classes per
 * set, the classes that need no sort), sort+walk (candidates, sort and walk of the other classes,
 * on both threads where there is a helper), backward (the softmax Jacobian, NHWC gradient); and,
 * always, entries sorted, jobs the helper thread ran and the range passes (halves of the
 * compaction or of the Jacobian) it did. Off by default.
 */
export const lovaszKernelProfile = { enabled: false, ms: {} as Record<string, number>, sorted: 0, helperJobs: 0, helperRanges: 0 };

let tick = 0;
/** Add the time since the last mark to `stage` (when profiling). */
function mark(stage?: string): void {
  if (!lovaszKernelProfile.enabled) return;
  const u = process.cpuUsage();
  const now = (u.user + u.system) / 1000;
  if (stage !== undefined) lovaszKernelProfile.ms[stage] = (lovaszKernelProfile.ms[stage] ?? 0) + now - tick;
  tick = now;
}

/** The generated module's instance on a memory, and the compiled module (for the helper thread). */
interface LovaszModule {
  exports: LovaszExports;
  module: object;
}

const instances = new WeakMap<object, Map<boolean, LovaszModule | null>>();

/**
 * The generated module on `h`'s memory (the wasm backend's heap), with its SIMD variants unless
 * SEG_WASM_SIMD=0 (simdSettings) or the runtime lacks wasm SIMD; undefined on cpu.
 */
export function lovaszModuleFor(h: Host): LovaszModule | undefined {
  const memory = h.wasmMemory();
  if (memory === undefined) return undefined;
  let byKind = instances.get(h.backend);
  if (!byKind) instances.set(h.backend, (byKind = new Map()));
  const simd = simdSettings.enabled;
  const cached = byKind.get(simd);
  if (cached !== undefined) return cached ?? undefined;
  let inst = instantiateLovasz(memory, simd);
  if (!inst && simd) inst = instantiateLovasz(memory, false);
  byKind.set(simd, inst ?? null);
  return inst;
}

/** Heap scratch: one uninitialised float32 tensor per area, addresses 8-byte aligned. */
class HeapAreas {
  private readonly tensors: TensorInfo[] = [];
  constructor(private readonly h: Host) {}

  /** An area of `bytes` bytes; returns its address. */
  alloc(bytes: number): number {
    const t = this.h.allocUninit([Math.ceil(bytes / 4) + 2]);
    this.tensors.push(t);
    return Math.ceil(this.h.ptr(t) / 8) * 8;
  }

  dispose(): void {
    for (const t of this.tensors) this.h.dispose(t);
  }
}

const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);
/** Bits of the float32 nearest to x. */
function f32bits(x: number): number {
  f32[0] = x;
  return f32u[0] as number;
}

function checkInputs(probs: TensorInfo, labels: TensorInfo): void {
  if (probs.dtype !== 'float32' || labels.dtype !== 'int32' || probs.shape.length !== 4) {
    throw new Error(`${LOVASZ_SOFTMAX_KERNEL}: expects float32 probs [N, H, W, C] and int32 labels [N, H, W]`);
  }
}

/** The kernel body, from the probabilities (tensors on the wasm backend's memory). */
export function lovaszSoftmaxKernel(h: Host, probs: TensorInfo, labels: TensorInfo, a: LovaszSoftmaxAttrs): TensorInfo[] {
  const mod = lovaszModuleFor(h);
  if (!mod) throw new Error(`${LOVASZ_SOFTMAX_KERNEL}: needs tensors on a wasm memory (the wasm backend)`);
  checkInputs(probs, labels);
  const [N, H, W, C] = probs.shape as [number, number, number, number];
  const P = N * H * W;
  const { validPerImage, V } = validPixels(h, labels, N, H * W, a.ignoreIndex);
  const ranges = pixelSets(validPerImage, N, V, a.perImage);
  let maxLen = 0;
  for (const [s, e] of ranges) maxLen = Math.max(maxLen, e - s);
  const helper = helperFor(h, mod);

  // Every allocation first (an allocation may grow the heap and detach views).
  const value = h.allocUninit([]);
  const dz = a.gradient ? h.allocUninit([N, H, W, C]) : undefined;
  const areas = new HeapAreas(h);
  try {
    const pT = areas.alloc(4 * C * V);
    const dP = areas.alloc(4 * C * V);
    const lab = areas.alloc(2 * V);
    const vIndex = V < P ? areas.alloc(4 * V) : 0;
    const sortAreas = (thread: number): JobAreas => ({ A: areas.alloc(8 * maxLen), B: areas.alloc(8 * maxLen), hist: areas.alloc(4 * HIST_SLOTS), out: areas.alloc(16), thread });
    const mine = sortAreas(0);
    const helperAreas = helper ? sortAreas(1) : undefined;
    const stats = areas.alloc(8 * (4 * C + 4));
    const dot = areas.alloc(8 * BACKWARD_BLOCK);
    const helperDot = areas.alloc(8 * BACKWARD_BLOCK);
    const countsAt = stats;
    const maxFgPAt = stats + 8 * C;
    const outAt = stats + 16 * C;
    const helperCountsAt = outAt + 32; // the helper's counts and largest probabilities (C each)

    const buf = h.f32(value).buffer;
    let sawNaN = false;
    mark();
    if (V > 0) sawNaN = runCompaction(mod, helper, { probs: h.ptr(probs), labels: h.ptr(labels), C, ignore: a.ignoreIndex, pT, V, lab, vIndex, outs: [outAt, outAt + 8] }, validPerImage, H * W, buf);
    mark('compact');
    const pTv = new Float32Array(buf, pT, C * V);
    const dPv = new Float32Array(buf, dP, C * V);

    const plan = sawNaN ? undefined : planClasses(mod, helper, { V, lab, pT, countsAt, maxFgPAt, helperCountsAt, buf, pTv, dPv }, ranges, C, a.classes);
    mark('count');
    let loss = 0;
    if (plan) {
      const q = makeQueue(plan.jobs.length, { V, lab, pT, dP });
      plan.jobs.forEach(([r, c, minBits, s, e, G], k) => {
        q.ints.set([c, minBits, s, e, G, -1, -1], k * JOB_INTS);
        q.floats[k * JOB_FLOATS] = plan.scales[r] as number;
      });
      runQueue(mod, h.wasmMemory() as { buffer: ArrayBufferLike }, q, mine, helper, helperAreas);
      plan.jobs.forEach(([r, c], k) => {
        plan.lossC[r * C + c] = q.floats[k * JOB_FLOATS + 1] as number;
        lovaszKernelProfile.sorted += q.ints[k * JOB_INTS + 5] as number;
        if (q.ints[k * JOB_INTS + 6] === 1) lovaszKernelProfile.helperJobs++;
      });
      mark('sort+walk');
      for (let i = 0; i < plan.lossC.length; i++) if (plan.counted[i]) loss += (plan.lossC[i] as number) * (plan.scales[Math.floor(i / C)] as number);
    }
    h.f32(value)[0] = sawNaN ? NaN : loss;
    if (dz) {
      const dzv = h.f32(dz);
      if (sawNaN) dzv.fill(NaN);
      else if (V > 0) runBackward(mod, helper, { pT, dP, vIndex, C, V, dz: h.ptr(dz), P, dots: [dot, helperDot] }, buf);
      else dzv.fill(0);
      mark('backward');
    }
  } finally {
    areas.dispose();
  }
  return dz ? [value, dz] : [value];
}

/** Per (set, class): whether it counts, its loss (once known), each set's scale, the classes to sort. */
interface ClassPlan {
  counted: Uint8Array;
  lossC: Float64Array;
  scales: Float64Array;
  /** set index, class, minFgErrBits, s, e, G */
  jobs: Array<[number, number, number, number, number, number]>;
}

/**
 * Count each set's classes, compute at once the classes that need no sort (an absent class under
 * 'all', a set's only class) and clear dP where a class does not count; the other classes become
 * jobs.
 */
function planClasses(
  mod: LovaszModule,
  helper: Helper | undefined,
  m: CountArgs & { pTv: Float32Array; dPv: Float32Array },
  ranges: ReadonlyArray<[number, number]>,
  C: number,
  classes: LovaszSoftmaxAttrs['classes'],
): ClassPlan {
  const plan: ClassPlan = { counted: new Uint8Array(ranges.length * C), lossC: new Float64Array(ranges.length * C), scales: new Float64Array(ranges.length), jobs: [] };
  const counts = new Float64Array(m.buf, m.countsAt, C);
  const maxFgP = new Float64Array(m.buf, m.maxFgPAt, C);
  for (const [r, [s, e]] of ranges.entries()) {
    countSet(mod, helper, m, C, s, e);
    let nClasses = 0;
    for (let c = 0; c < C; c++) if (classes === 'all' || (counts[c] as number) > 0) nClasses++;
    const scale = (plan.scales[r] = 1 / (nClasses * ranges.length));
    for (let c = 0; c < C; c++) {
      const G = counts[c] as number;
      const base = c * m.V;
      if (classes === 'present' && G === 0) {
        m.dPv.fill(0, base + s, base + e);
        continue;
      }
      plan.counted[r * C + c] = 1;
      if (G === 0 || G === e - s) {
        m.dPv.fill(0, base + s, base + e); // (lz_build clears the others)
        plan.lossC[r * C + c] = unsortedClassLoss(c, G, s, e, m.V, m.pTv, m.dPv, scale);
      } else plan.jobs.push([r, c, f32bits(1 - (maxFgP[c] as number)), s, e, G]);
    }
  }
  return plan;
}

/** Where lz_count reads and writes: the labels, the probabilities, the counts (C float64 each). */
interface CountArgs {
  V: number;
  lab: number;
  pT: number;
  countsAt: number;
  maxFgPAt: number;
  helperCountsAt: number;
  buf: ArrayBufferLike;
}

/**
 * The pixels of each class in the set [s, e) and the class's largest probability on them, into
 * countsAt and maxFgPAt: with a ready helper, the set's second half counted there into
 * helperCountsAt and merged (sums of whole numbers and maxima: exact in any order).
 */
function countSet(mod: LovaszModule, helper: Helper | undefined, m: CountArgs, C: number, s: number, e: number): void {
  const counts = new Float64Array(m.buf, m.countsAt, C).fill(0);
  const maxFgP = new Float64Array(m.buf, m.maxFgPAt, C).fill(0);
  const args = (v0: number, v1: number, at: number): number[] => [m.lab, m.pT, m.V, v0, v1, at, at + 8 * C];
  if (!helper || e - s < RANGE_SPLIT) {
    callExport(mod.exports, 'lz_count', args(s, e, m.countsAt));
    return;
  }
  const mid = s + ((e - s) >> 1);
  const theirs = new Float64Array(m.buf, m.helperCountsAt, 2 * C).fill(0);
  onBothThreads(mod, helper, () => callExport(mod.exports, 'lz_count', args(s, mid, m.countsAt)), { fn: 'lz_count', args: args(mid, e, m.helperCountsAt) });
  for (let c = 0; c < C; c++) {
    counts[c] = (counts[c] as number) + (theirs[c] as number);
    maxFgP[c] = Math.max(maxFgP[c] as number, theirs[C + c] as number);
  }
}

/** Valid pixels (labels ≠ ignore) per image, and in all. */
function validPixels(h: Host, labels: TensorInfo, N: number, HW: number, ignore: number): { validPerImage: Int32Array; V: number } {
  const validPerImage = new Int32Array(N);
  const y = h.i32(labels);
  let V = 0;
  for (let n = 0, j = 0; n < N; n++) {
    let k = 0;
    for (const end = j + HW; j < end; j++) if (y[j] !== ignore) k++;
    validPerImage[n] = k;
    V += k;
  }
  return { validPerImage, V };
}

/**
 * Run the queue's jobs on this thread and, when it is ready, the helper thread together; then any
 * job the helper took but did not finish (it failed, or gave no sign within HELPER_TIMEOUT_MS, after
 * which it is no longer used) on this thread.
 */
function runQueue(mod: LovaszModule, memory: { buffer: ArrayBufferLike }, q: JobQueue, mine: JobAreas, helper: Helper | undefined, helperAreas: JobAreas | undefined): void {
  if (helper && helperAreas && q.count > 1) {
    helper.worker.postMessage({ run: { queue: q, areas: helperAreas } } satisfies HelperMessage);
    runJobs(mod.exports, memory, q, mine);
    if (Atomics.wait(q.ctrl, 1, 0, HELPER_TIMEOUT_MS) === 'timed-out') helper.ready[0] = 0;
  } else {
    runJobs(mod.exports, memory, q, mine);
  }
  for (let k = 0; k < q.count; k++) {
    if (q.ints[k * JOB_INTS + 5] !== -1) continue;
    const one = makeQueue(1, q);
    one.ints.set(q.ints.subarray(k * JOB_INTS, (k + 1) * JOB_INTS));
    one.floats[0] = q.floats[k * JOB_FLOATS] as number;
    runJobs(mod.exports, memory, one, mine);
    q.ints.set(one.ints.subarray(5, 7), k * JOB_INTS + 5);
    q.floats[k * JOB_FLOATS + 1] = one.floats[1] as number;
  }
}

/**
 * Run a range pass of the module on two threads: `theirs` (an export and its arguments) on the
 * helper, `mine` here, each writing only its own part of the outputs. If the helper fails or is
 * silent for HELPER_TIMEOUT_MS (then it is not used again), `theirs` runs here too.
 */
function onBothThreads(mod: LovaszModule, helper: Helper, mine: () => void, theirs: { fn: RangePass; args: number[] }): void {
  const done = new Int32Array(new SharedArrayBuffer(4));
  helper.worker.postMessage({ call: { ...theirs, done } } satisfies HelperMessage);
  mine();
  if (Atomics.wait(done, 0, 0, HELPER_TIMEOUT_MS) === 'timed-out') helper.ready[0] = 0;
  if (Atomics.load(done, 0) === 1) lovaszKernelProfile.helperRanges++;
  else callExport(mod.exports, theirs.fn, theirs.args);
}

/** Pixels from which the compaction and the Jacobian pass are split between the two threads. */
const RANGE_SPLIT = 4096;

/** The compaction's pointers and sizes (lz_compact), with an output slot (2 × i32) per thread. */
interface CompactionArgs {
  probs: number;
  labels: number;
  C: number;
  ignore: number;
  pT: number;
  V: number;
  lab: number;
  vIndex: number;
  outs: [number, number];
}

/**
 * The compaction (lz_compact) of the images' valid pixels: with a ready helper and two or more
 * images, the later half of the images on the helper, writing from their first valid pixel on.
 * Returns whether a NaN probability was seen.
 */
function runCompaction(mod: LovaszModule, helper: Helper | undefined, c: CompactionArgs, validPerImage: Int32Array, HW: number, buf: ArrayBufferLike): boolean {
  const N = validPerImage.length;
  const split = helper && N >= 2 && c.V >= RANGE_SPLIT ? N - (N >> 1) : N; // first image of the helper's half
  let v0 = 0;
  for (let n = 0; n < split; n++) v0 += validPerImage[n] as number;
  const parts: Array<{ n0: number; n1: number; v0: number; end: number }> = [{ n0: 0, n1: split, v0: 0, end: v0 }];
  if (split < N) parts.push({ n0: split, n1: N, v0, end: c.V });
  const outs = parts.map((_, i) => new Int32Array(buf, c.outs[i]!, 2).fill(0));
  const args = (i: number): number[] => {
    const p = parts[i]!;
    return [c.probs, c.labels, p.n0 * HW, p.n1 * HW, c.C, c.ignore, c.pT, c.V, c.lab, c.vIndex, p.v0, c.outs[i]!];
  };
  const mine = () => callExport(mod.exports, 'lz_compact', args(0));
  if (helper && parts.length === 2) onBothThreads(mod, helper, mine, { fn: 'lz_compact', args: args(1) });
  else mine();
  parts.forEach((p, i) => {
    if (outs[i]![0] !== p.end) throw new Error(`${LOVASZ_SOFTMAX_KERNEL}: compaction of images ${p.n0}–${p.n1 - 1} ended at pixel ${outs[i]![0]}, expected ${p.end}`);
  });
  return outs.some((o) => o[1] !== 0);
}

/** The softmax Jacobian pass's pointers and sizes (lz_backward), with a dot scratch per thread. */
interface BackwardArgs {
  pT: number;
  dP: number;
  vIndex: number;
  C: number;
  V: number;
  dz: number;
  P: number;
  dots: [number, number];
}

/**
 * The softmax Jacobian pass (lz_backward): with a ready helper, the valid pixels' second half (and
 * its rows of dz) on the helper and the first here; each pixel's row is computed alone, so the
 * bits do not depend on the split.
 */
function runBackward(mod: LovaszModule, helper: Helper | undefined, a: BackwardArgs, buf: ArrayBufferLike): void {
  const range = (v0: number, v1: number, j0: number, j1: number, dot: number): number[] => [a.pT, a.dP, a.vIndex, a.C, a.V, a.dz, j1, dot, v0, v1, j0];
  if (!helper || a.V < RANGE_SPLIT) {
    callExport(mod.exports, 'lz_backward', range(0, a.V, 0, a.P, a.dots[0]));
    return;
  }
  const half = a.V >> 1;
  const row = a.vIndex ? (new Int32Array(buf, a.vIndex + 4 * half, 1)[0] as number) : half; // dz row of the second half's first pixel
  onBothThreads(mod, helper, () => callExport(mod.exports, 'lz_backward', range(0, half, 0, row, a.dots[0])), { fn: 'lz_backward', args: range(half, a.V, row, a.P, a.dots[1]) });
}

/** Whether SegLovaszSoftmax sorts on a helper thread where the wasm heap is shared (tests switch it). */
export const lovaszThreads = { enabled: process.env['SEG_LOVASZ_THREADS'] !== '0' };

/** How long the kernel waits for the helper's share once its own is done, before doing it itself. */
const HELPER_TIMEOUT_MS = 10_000;

/** The helper thread and its ready flag (set by the worker once its module is instantiated). */
interface Helper {
  worker: Worker;
  ready: Int32Array;
}

const helpers = new WeakMap<object, Helper | null>();

/**
 * The helper thread for `h`'s memory once it is ready: only on the threaded build (a shared
 * memory); started at the first call, which (like any call before it is ready) runs alone.
 */
function helperFor(h: Host, mod: LovaszModule): Helper | undefined {
  const memory = h.wasmMemory() as { buffer: unknown } | undefined;
  if (!lovaszThreads.enabled || !memory || typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return undefined;
  let helper = helpers.get(memory);
  if (helper === undefined) {
    helper = startHelper(mod, memory as { buffer: ArrayBufferLike });
    helpers.set(memory, helper);
  }
  return helper && Atomics.load(helper.ready, 0) === 1 ? helper : undefined;
}

function startHelper(mod: LovaszModule, memory: { buffer: ArrayBufferLike }): Helper | null {
  try {
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL('./wasm/lovasz_worker.js', import.meta.url));
    worker.unref();
    worker.on('error', () => (ready[0] = 0)); // not used again; its unfinished jobs were rerun (runQueue)
    worker.postMessage({ init: { module: mod.module, memory, ready } } satisfies HelperMessage);
    return { worker, ready };
  } catch {
    return null;
  }
}

function kernelInputs(inputs: NamedTensorInfoMap): { logits: TensorInfo; labels: TensorInfo } {
  const logits = inputs['logits'];
  const labels = inputs['labels'];
  if (!logits || !labels) throw new Error(`${LOVASZ_SOFTMAX_KERNEL}: inputs logits and labels are required`);
  return { logits, labels };
}

/** Register SegLovaszSoftmax for the wasm backend, in place on its heap (idempotent). */
export function registerLovaszSoftmaxKernel(): void {
  if (tf.getKernel(LOVASZ_SOFTMAX_KERNEL, 'wasm')) return;
  tf.registerKernel({
    kernelName: LOVASZ_SOFTMAX_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { logits, labels } = kernelInputs(inputs);
      const h = hostFor(backend);
      const probs = h.run('Softmax', { logits }, { dim: logits.shape.length - 1 }); // as tf.softmax calls it
      try {
        return lovaszSoftmaxKernel(h, probs, labels, attrs as unknown as LovaszSoftmaxAttrs);
      } finally {
        h.dispose(probs);
      }
    },
  });
}
