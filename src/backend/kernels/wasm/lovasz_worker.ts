/**
 * The helper thread of SegLovaszSoftmax on tfjs-wasm's threaded build (lovasz_jobs.ts): it
 * instantiates the kernel's generated module on the backend's shared memory once and sets
 * `ready[0]`, then, for each message, takes jobs from the queue until it is empty and signals ctrl[1],
 * or runs one range pass (its half of the compaction or of the softmax Jacobian) and signals `done`.
 */
import { parentPort } from 'node:worker_threads';
import { callExport, type JobAreas, type JobQueue, type RangePass, runJobs } from './lovasz_jobs.js';
import type { LovaszExports } from './lovasz_wasm.js';

interface WasmJsApi {
  Instance: new (module: object, imports: object) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

export type HelperMessage =
  | { init: { module: object; memory: { buffer: ArrayBufferLike }; ready: Int32Array } }
  | { run: { queue: JobQueue; areas: JobAreas } }
  | { call: { fn: RangePass; args: number[]; done: Int32Array } };

let mod: LovaszExports | undefined;

let memory: { buffer: ArrayBufferLike } | undefined;

parentPort?.on('message', (m: HelperMessage) => {
  if ('init' in m) {
    memory = m.init.memory;
    mod = new WA.Instance(m.init.module, { env: { memory } }).exports as LovaszExports;
    Atomics.store(m.init.ready, 0, 1);
    return;
  }
  if ('call' in m) {
    let ok = false;
    try {
      if (mod) callExport(mod, m.call.fn, m.call.args);
      ok = mod !== undefined;
    } finally {
      Atomics.store(m.call.done, 0, ok ? 1 : 2); // 2: not done, the kernel's thread does it
      Atomics.notify(m.call.done, 0);
    }
    return;
  }
  const { queue, areas } = m.run;
  try {
    if (mod && memory) runJobs(mod, memory, queue, areas);
  } finally {
    Atomics.store(queue.ctrl, 1, 1);
    Atomics.notify(queue.ctrl, 1);
  }
});
