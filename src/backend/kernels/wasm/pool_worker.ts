/**
 * The helper thread of pool.ts: it instantiates seg's SIMD module on the backend's shared memory,
 * sets ctrl[READY], then for each new batch (ctrl[SEQ] advanced) takes entries with the kernel's
 * thread and signals ctrl[DONE] = the batch. It waits on the table and never returns to its event
 * loop; Node ends it with the process (the worker is unref'd).
 */
import { parentPort } from 'node:worker_threads';
import { DONE, HELPER_THREAD, type Kernel, type PartTable, READY, SEQ, takeEntries } from './pool_table.js';

interface WasmJsApi {
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

export interface PoolInit {
  module: object;
  memory: { buffer: ArrayBufferLike };
  names: string[];
  table: PartTable;
}

parentPort?.once('message', (m: PoolInit) => {
  const { exports } = new WA.Instance(m.module, { env: { memory: m.memory } });
  const fns = m.names.map((n) => exports[n] as Kernel);
  const ctrl = m.table.ctrl;
  Atomics.store(ctrl, READY, 1);
  for (let seen = Atomics.load(ctrl, SEQ); ; ) {
    Atomics.wait(ctrl, SEQ, seen);
    seen = Atomics.load(ctrl, SEQ);
    try {
      takeEntries(fns, m.memory, m.table, HELPER_THREAD);
    } catch {
      // the entry stays unfinished and the kernel's thread runs it again (and meets the error itself)
    }
    Atomics.store(ctrl, DONE, seen);
    Atomics.notify(ctrl, DONE);
  }
});
