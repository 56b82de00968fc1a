/**
 * The shared table through which seg's SIMD kernel calls are split between the kernel's thread
 * and a helper thread (pool.ts, pool_worker.ts): each entry is one call of an export of the SIMD
 * module (simd.ts) on part of a tensor, with the heap range it must zero first. Both threads take
 * entries from one counter; an entry's `by` slot says which thread finished it (0: none yet).
 *
 * A part writes only memory of its own (its rows of the output, its own accumulators), so the
 * result does not depend on which thread ran which part, and a part can be run again from the
 * start (its accumulators zeroed) if the helper took it and never finished.
 */
export const MAX_PARTS = 16;
export const MAX_ARGS = 20;

/** Indices into `ctrl`: batch sequence number, next entry to take, entries, batch the helper finished, helper ready. */
export const SEQ = 0;
export const NEXT = 1;
export const COUNT = 2;
export const DONE = 3;
export const READY = 4;

/** The thread ids written into `by`. */
export const MAIN_THREAD = 1;
export const HELPER_THREAD = 2;

export interface PartTable {
  ctrl: Int32Array;
  /** Per entry: index of the export in the module's export list, argument count, zero range (byte address, bytes), finished by. */
  fn: Int32Array;
  argc: Int32Array;
  zero: Int32Array;
  by: Int32Array;
  /** Per entry, MAX_ARGS arguments (integers or float32 values). */
  args: Float64Array;
}

/** One part: the export, its arguments, and the heap range [zero[0], zero[0] + zero[1]) to clear before the call. */
export interface Part {
  fn: string;
  args: readonly number[];
  zero?: readonly [number, number];
}

/** A table in shared memory (plain memory where there is none; then only one thread uses it). */
export function makeTable(): PartTable {
  const Buf = typeof SharedArrayBuffer === 'undefined' ? ArrayBuffer : SharedArrayBuffer;
  const ints = (n: number) => new Int32Array(new Buf(4 * n));
  return { ctrl: ints(8), fn: ints(MAX_PARTS), argc: ints(MAX_PARTS), zero: ints(2 * MAX_PARTS), by: ints(MAX_PARTS), args: new Float64Array(new Buf(8 * MAX_PARTS * MAX_ARGS)) };
}

export type Kernel = (...args: number[]) => void;

/** Run entry i on this thread and record it as finished by `thread`. */
export function runEntry(fns: readonly Kernel[], memory: { buffer: ArrayBufferLike }, t: PartTable, i: number, thread: number): void {
  const [at, bytes] = [t.zero[2 * i] as number, t.zero[2 * i + 1] as number];
  if (bytes > 0) new Uint8Array(memory.buffer, at, bytes).fill(0);
  const fn = fns[t.fn[i] as number];
  if (!fn) throw new Error(`seg SIMD pool: no kernel #${t.fn[i]}`);
  const n = t.argc[i] as number;
  fn(...Array.from(t.args.subarray(i * MAX_ARGS, i * MAX_ARGS + n)));
  Atomics.store(t.by, i, thread);
}

/** Take entries of the current batch until none is left. */
export function takeEntries(fns: readonly Kernel[], memory: { buffer: ArrayBufferLike }, t: PartTable, thread: number): void {
  const count = Atomics.load(t.ctrl, COUNT);
  for (let i = Atomics.add(t.ctrl, NEXT, 1); i < count; i = Atomics.add(t.ctrl, NEXT, 1)) runEntry(fns, memory, t, i, thread);
}
