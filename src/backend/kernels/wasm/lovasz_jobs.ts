/**
 * SegLovaszSoftmax's per-class sorts as jobs that two threads take from one queue: the kernel's
 * thread (lovasz.ts) and, on tfjs-wasm's threaded build, whose heap is a shared WebAssembly.Memory,
 * a helper worker (lovasz_worker.ts) running the same generated module on the same memory. The
 * classes are independent (each job reads the shared probabilities and labels and writes its own
 * row of dP and its own loss slot), so the results are those of one thread, bit for bit; the
 * kernel adds the losses in class order afterwards.
 *
 * The queue lives in a SharedArrayBuffer: ctrl [next job, helper done], per job 7 int32
 * (class, minFgErrBits, s, e, G, entries sorted, which thread ran it) and 2 float64 (scale, loss_c).
 */
import type { LovaszExports } from './lovasz_wasm.js';

export const JOB_INTS = 7;
export const JOB_FLOATS = 2;

/** The queue and the kernel's shared pointers (heap byte addresses). */
export interface JobQueue {
  ctrl: Int32Array;
  ints: Int32Array;
  floats: Float64Array;
  count: number;
  V: number;
  lab: number;
  pT: number;
  dP: number;
}

/** One thread's scratch on the heap: sort buffers A and B, the histogram, the result slots; its id. */
export interface JobAreas {
  A: number;
  B: number;
  hist: number;
  out: number;
  thread: number;
}

/** A queue of `count` jobs in fresh shared memory (or plain memory where there is none). */
export function makeQueue(count: number, ptrs: Pick<JobQueue, 'V' | 'lab' | 'pT' | 'dP'>): JobQueue {
  const Buf = typeof SharedArrayBuffer === 'undefined' ? ArrayBuffer : SharedArrayBuffer;
  return {
    ctrl: new Int32Array(new Buf(8)),
    ints: new Int32Array(new Buf(4 * JOB_INTS * Math.max(1, count))),
    floats: new Float64Array(new Buf(8 * JOB_FLOATS * Math.max(1, count))),
    count,
    ...ptrs,
  };
}

/**
 * Take jobs from `q` until none is left: class c's candidates (lz_build, which also clears its
 * dP range), then the sort and the walk (lz_sortwalk), loss_c into the job's slot.
 */
export function runJobs(mod: LovaszExports, memory: { buffer: ArrayBufferLike }, q: JobQueue, a: JobAreas): void {
  const build = mod.lz_build_simd ?? mod.lz_build;
  for (let k = Atomics.add(q.ctrl, 0, 1); k < q.count; k = Atomics.add(q.ctrl, 0, 1)) {
    const i = k * JOB_INTS;
    const [c, minBits, s, e, G] = [q.ints[i], q.ints[i + 1], q.ints[i + 2], q.ints[i + 3], q.ints[i + 4]] as [number, number, number, number, number];
    build(c, minBits, s, e, q.V, q.lab, q.pT, a.A, a.out, q.dP);
    const out32 = new Int32Array(memory.buffer, a.out, 4);
    const n = out32[0] as number;
    mod.lz_sortwalk(a.A, a.B, n, (out32[1] as number) >>> 0, (out32[2] as number) >>> 0, a.hist, G, q.dP + 4 * c * q.V, q.floats[k * JOB_FLOATS] as number, a.out, 1);
    q.ints[i + 5] = n;
    q.ints[i + 6] = a.thread;
    q.floats[k * JOB_FLOATS + 1] = new Float64Array(memory.buffer, a.out, 1)[0] as number;
  }
}

/** The module's passes over a range of pixels, which the two threads can split. */
export type RangePass = 'lz_compact' | 'lz_count' | 'lz_backward';

/** Call a range pass (its SIMD variant where there is one). */
export function callExport(m: LovaszExports, fn: RangePass, args: number[]): void {
  const f = (fn === 'lz_backward' ? (m.lz_backward_simd ?? m.lz_backward) : m[fn]) as (...a: number[]) => void;
  f(...args);
}
