/**
 * seg's SIMD kernels on two threads: on tfjs-wasm's threaded build (a shared heap) a helper
 * worker (pool_worker.ts) instantiates the same SIMD module on the same memory, and a kernel that
 * splits its work into parts (pool_table.ts) runs them with it: the kernel's thread publishes the
 * parts, wakes the helper, takes parts itself, then waits for the helper's. Elsewhere (the stock
 * single-threaded build, SEG_WASM_POOL=0, or while the helper starts) the parts run one after the
 * other on the kernel's thread: a kernel splits by its shape alone, so the result is the same bits
 * on every path.
 *
 * A helper that gives no sign for HELPER_TIMEOUT_MS is not used again and its unfinished parts
 * are run on the kernel's thread.
 */
import { Worker } from 'node:worker_threads';
import type { Host } from '../host.js';
import { COUNT, DONE, HELPER_THREAD, type Kernel, MAIN_THREAD, MAX_ARGS, MAX_PARTS, makeTable, NEXT, type Part, type PartTable, READY, runEntry, SEQ, takeEntries } from './pool_table.js';
import type { PoolInit } from './pool_worker.js';
import { compiledSimdModule, type SimdExports } from './simd.js';

export type { Part };

/** Whether the helper thread is used (tests switch it). */
export const poolSettings = { enabled: process.env['SEG_WASM_POOL'] !== '0' };
/** Parts the helper thread has run, in this process. */
export const poolStats = { helperParts: 0 };

const HELPER_TIMEOUT_MS = 10_000;

interface Helper {
  table: PartTable;
  worker: Worker;
}

interface Pool {
  memory: { buffer: ArrayBufferLike };
  names: string[];
  fns: Kernel[];
  /** The table for parts run on the kernel's thread alone. */
  local: PartTable;
  /** The helper thread: undefined until first wanted, null where there can be none. */
  helper: Helper | null | undefined;
}

const pools = new WeakMap<object, Pool>();

function poolFor(h: Host, k: SimdExports): Pool {
  const memory = h.wasmMemory() as { buffer: ArrayBufferLike };
  let pool = pools.get(memory);
  if (!pool) {
    const names = Object.keys(k);
    const exported = k as unknown as Record<string, Kernel>;
    pool = { memory, names, fns: names.map((n) => exported[n] as Kernel), local: makeTable(), helper: undefined };
    pools.set(memory, pool);
  }
  return pool;
}

/** The pool's helper if it is ready to take parts; started at the first call that wants it. */
function readyHelper(pool: Pool): Helper | undefined {
  if (!poolSettings.enabled) return undefined;
  if (pool.helper === undefined) pool.helper = startHelper(pool);
  return pool.helper && Atomics.load(pool.helper.table.ctrl, READY) === 1 ? pool.helper : undefined;
}

/** A helper thread, on a shared heap only. */
function startHelper(pool: Pool): Helper | null {
  if (typeof SharedArrayBuffer === 'undefined' || !(pool.memory.buffer instanceof SharedArrayBuffer)) return null;
  const module = compiledSimdModule(true);
  if (!module) return null;
  try {
    const table = makeTable();
    const worker = new Worker(new URL('./pool_worker.js', import.meta.url));
    worker.unref();
    const gone = () => Atomics.store(table.ctrl, READY, 0); // not used again
    worker.on('error', gone);
    worker.on('exit', gone);
    worker.postMessage({ module, memory: pool.memory, names: pool.names, table } satisfies PoolInit);
    return { table, worker };
  } catch {
    return null;
  }
}

/** Run the parts (each a call of an export of `k`), on two threads where a helper is ready. */
export function runParts(h: Host, k: SimdExports, parts: readonly Part[]): void {
  if (parts.length > MAX_PARTS) throw new Error(`seg SIMD pool: ${parts.length} parts, at most ${MAX_PARTS}`);
  const pool = poolFor(h, k);
  const helper = parts.length > 1 ? readyHelper(pool) : undefined;
  const t = helper ? helper.table : pool.local;
  parts.forEach((p, i) => {
    const fn = pool.names.indexOf(p.fn);
    if (fn < 0 || p.args.length > MAX_ARGS) throw new Error(`seg SIMD pool: bad part ${p.fn}/${p.args.length}`);
    t.fn[i] = fn;
    t.argc[i] = p.args.length;
    t.args.set(p.args, i * MAX_ARGS);
    t.zero.set(p.zero ?? [0, 0], 2 * i);
    t.by[i] = 0;
  });
  Atomics.store(t.ctrl, COUNT, parts.length);
  Atomics.store(t.ctrl, NEXT, 0);
  if (helper) {
    const seq = Atomics.add(t.ctrl, SEQ, 1) + 1;
    Atomics.notify(t.ctrl, SEQ);
    try {
      takeEntries(pool.fns, pool.memory, t, MAIN_THREAD);
    } finally {
      waitForHelper(t, seq); // also when a part failed here: the table is not reused while the helper is in it
    }
  } else {
    takeEntries(pool.fns, pool.memory, t, MAIN_THREAD);
  }
  for (let i = 0; i < parts.length; i++) {
    if (t.by[i] === HELPER_THREAD) poolStats.helperParts++;
    else if (t.by[i] !== MAIN_THREAD) runEntry(pool.fns, pool.memory, t, i, MAIN_THREAD); // the helper failed on it, or is gone
  }
}

/** Wait until the helper has finished batch `seq`; after HELPER_TIMEOUT_MS it is not used again. */
function waitForHelper(t: PartTable, seq: number): void {
  const deadline = performance.now() + HELPER_TIMEOUT_MS;
  for (let d = Atomics.load(t.ctrl, DONE); d !== seq; d = Atomics.load(t.ctrl, DONE)) {
    const left = deadline - performance.now();
    if (left <= 0) {
      Atomics.store(t.ctrl, READY, 0);
      return;
    }
    Atomics.wait(t.ctrl, DONE, d, left);
  }
}

/** [start, end) ranges for `parts` parts of `rows` rows (or columns), each start a multiple of `align`. */
export function splitRows(rows: number, parts: number, align = 1): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = 0;
  for (let p = 1; p <= parts; p++) {
    const e = p === parts ? rows : Math.min(rows, Math.round((rows * p) / parts / align) * align);
    if (e > s) out.push([s, e]);
    s = Math.max(s, e);
  }
  return out;
}
