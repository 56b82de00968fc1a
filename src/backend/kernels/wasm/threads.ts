/**
 * tfjs-backend-wasm's multi-threaded SIMD build, made to run in Node without patching the package.
 *
 * Stock tfjs never uses it in Node (it forces WASM_HAS_MULTITHREAD_SUPPORT off: its pthread
 * workers are created from blob: URLs, which worker_threads rejects), and its C++ side caps the
 * thread count at half the logical cores. Here the Emscripten module is created from the package's
 * own wasm-out/ files: the pthread worker script (shipped as a JS string) is written once to a
 * temporary file, the main script is given by path, and the `emscripten_num_logical_cores` import
 * is answered with 2 × threads so that `threads` pthreads are really used. The stock BackendWasm
 * class then runs on that module under the backend name 'wasm', so every wasm kernel (and seg's)
 * works unchanged on a SharedArrayBuffer heap.
 *
 * Opt-in (SEG_WASM_THREADS=n, or seg_step's --threads): call before the wasm backend is first set.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number | void;
  tfjs?: Record<string, unknown>;
}
type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;
interface WasmPkg {
  BackendWasm: new (module: unknown) => tf.KernelBackend;
  setThreadsCount(n: number): void;
}
interface WasmJsApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: object; module: object }>;
}

let registered: number | undefined;

/**
 * Register the threaded build as the 'wasm' backend with `threads` threads (≥ 2). Throws if the
 * wasm backend is already active.
 */
export function useThreadedWasm(threads: number): void {
  if (!Number.isInteger(threads) || threads < 2) throw new Error(`threads must be an integer ≥ 2, got ${threads}`);
  if (registered === threads) return;
  if (tf.engine().backendNames().includes('wasm') && tf.getBackend() === 'wasm') throw new Error('useThreadedWasm: the wasm backend is already active');
  const pkg = require('@tensorflow/tfjs-backend-wasm') as WasmPkg;
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const raw = fs.readFileSync(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js'), 'utf8');
  // the file is `module.exports.wasmWorkerContents = \`<script>\``; take the script text verbatim
  const script = raw.slice(raw.indexOf('`') + 1, raw.lastIndexOf('`'));
  const workerFile = path.join(os.tmpdir(), `seg-tfjs-wasm-worker-${process.pid}.js`);
  fs.writeFileSync(workerFile, script);
  process.once('exit', () => fs.rmSync(workerFile, { force: true }));
  const factory = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.js')) as Factory;
  const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;
  const wasmBytes = fs.readFileSync(path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'));

  const create = async (): Promise<tf.KernelBackend> => {
    const module = await factory({
      locateFile: (p: string) => (p.endsWith('.worker.js') ? workerFile : path.join(dir, p)),
      mainScriptUrlOrBlob: path.join(dir, 'tfjs-backend-wasm-threaded-simd.js'),
      instantiateWasm: (imports: { env: Record<string, unknown> }, receive: (instance: object, module: object) => void) => {
        imports.env['emscripten_num_logical_cores'] = () => 2 * threads;
        void WA.instantiate(wasmBytes, imports).then((o) => receive(o.instance, o.module));
        return {};
      },
    });
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    pkg.setThreadsCount(threads);
    const backend = new pkg.BackendWasm(module);
    // The pthread workers must not keep Node alive once the program is done.
    const pt = (module as { PThread?: { unusedWorkers?: Array<{ unref?: () => void }>; runningWorkers?: Array<{ unref?: () => void }> } }).PThread;
    for (const w of [...(pt?.unusedWorkers ?? []), ...(pt?.runningWorkers ?? [])]) w.unref?.();
    return backend;
  };
  if (tf.engine().registryFactory['wasm'] !== undefined) tf.removeBackend('wasm');
  tf.registerBackend('wasm', create, 2);
  registered = threads;
}

/** The threads the active wasm backend runs kernels on (1 for the stock build). */
export function wasmThreads(): number {
  const b = tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } };
  return b.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}
