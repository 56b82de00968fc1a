/**
 * Compute-backend selection, at run time.
 *
 *   auto        @tensorflow/tfjs-node-gpu when installed and a GPU is wanted (--use_gpu) or visible,
 *               else @tensorflow/tfjs-node when installed, else torch when its addon is installed,
 *               else wasm (what `npm install` gives everywhere: the native packages are
 *               optionalDependencies whose install fails without access to libtensorflow's download
 *               host, or, for seg-torch, without libtorch).
 *   tensorflow  the native libtensorflow binding (fails with a hint when it is not installed)
 *   torch       seg's libtorch addon (native/seg-torch, src/backend/native/): the cpu backend with
 *               its heavy kernels in libtorch (fails with a hint when the addon is not installed)
 *   wasm        @tensorflow/tfjs-backend-wasm with seg's training kernels registered
 *   cpu         the pure-JS backend (slow; used as the reference in kernel tests)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerTrainingKernels } from './kernels/index.js';
import { releaseTapeEagerly } from './tape.js';
import { useThreadedWasm, wasmThreads } from './kernels/wasm/threads.js';
import { runtimeError, usageError } from '../util/errors.js';
import { registerTorchBackend, torchStatus, TORCH_BACKEND } from './native/index.js';

import { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export { BACKEND_CHOICES, type BackendChoice };

export interface BackendInfo {
  /** The tfjs backend name now active: 'tensorflow', 'torch', 'wasm' or 'cpu'. */
  name: string;
  /** Which package provides it, and on what device: one line for the log. */
  description: string;
  /** It computes on a GPU (tfjs-node-gpu). */
  gpu?: boolean;
}

export interface BackendOptions {
  backend?: BackendChoice;
  /** --use_gpu: prefer the GPU build of the native backend. */
  useGpu?: boolean;
  /**
   * Threads of the wasm backend: 'auto' (the default) uses tfjs-wasm's threaded build with one
   * thread per CPU core (at most 4) when there are at least 2 cores, else the single-threaded build.
   * On torch: libtorch's intra-op threads ('auto': one per core).
   */
  threads?: number | 'auto';
}

/** The wasm thread count 'auto' stands for on this machine. */
export function autoThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores));
}

let active: BackendInfo | undefined;

/** Make `choice` the active tfjs backend. Idempotent for the same choice within a process. */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  const choice = opts.backend ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw usageError(`unknown backend ${JSON.stringify(choice)}`, { hint: `use one of ${BACKEND_CHOICES.join(', ')}` });
  }
  if (active && (choice === 'auto' || choice === active.name)) return active;
  releaseTapeEagerly();
  if (opts.useGpu) return (active = await gpuBackend(choice));

  if (choice === 'tensorflow' || choice === 'auto') {
    const native = await tryNative(opts.useGpu ?? false);
    if (native) return (active = native);
    if (choice === 'tensorflow') {
      throw runtimeError('the tensorflow backend is not installed (@tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)', {
        hint: 'their install downloads libtensorflow from storage.googleapis.com; without access to it use --backend wasm (the default)',
      });
    }
  }
  if (choice === 'torch' || choice === 'auto') {
    const torch = await tryTorch(opts.threads);
    if (torch) return (active = torch);
    if (choice === 'torch') {
      throw runtimeError(`the torch backend is not available: ${torchStatus().reason}`, {
        hint: 'it is the optional seg-torch package, built by npm install where libtorch is installed (Debian/Ubuntu: apt-get install libtorch-dev, then npm install); without it use --backend wasm (the default)',
      });
    }
  }
  if (choice === 'cpu') {
    await setBackend('cpu');
    await registerTrainingKernels('cpu');
    return (active = { name: 'cpu', description: 'cpu (pure JavaScript, @tensorflow/tfjs-backend-cpu)' });
  }
  await import('@tensorflow/tfjs-backend-wasm');
  const threads = explicitThreads(opts.threads) ?? autoThreads();
  if (threads > 1) useThreadedWasm(threads);
  await setBackend('wasm');
  await registerTrainingKernels('wasm');
  const n = wasmThreads();
  return (active = { name: 'wasm', description: `wasm (WebAssembly SIMD, @tensorflow/tfjs-backend-wasm${n > 1 ? ' threaded build' : ''}, ${n} thread${n > 1 ? 's' : ''}) with seg's training kernels` });
}

/** The thread count asked for: undefined for 'auto' (or none), else a positive integer. */
function explicitThreads(threads: number | 'auto' | undefined): number | undefined {
  if (threads === undefined || threads === 'auto') return undefined;
  if (!Number.isInteger(threads) || threads < 1) throw usageError(`--threads expects a positive integer or auto, got ${String(threads)}`);
  return threads;
}

async function setBackend(name: string): Promise<void> {
  // Production mode: no debug checks, and no "install tfjs-node" banner from the cpu backend.
  tf.env().set('PROD', true);
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw runtimeError(`could not initialise the ${name} backend`);
}

function gpuVisible(): boolean {
  return fs.existsSync('/dev/nvidia0') || fs.existsSync('/dev/nvidiactl');
}

async function tryNative(useGpu: boolean): Promise<BackendInfo | undefined> {
  const candidates: Array<[string, string]> = [];
  if (useGpu || gpuVisible()) candidates.push(['@tensorflow/tfjs-node-gpu', 'GPU']);
  candidates.push(['@tensorflow/tfjs-node', 'CPU']);
  for (const [pkg, device] of candidates) {
    try {
      await import(pkg);
    } catch {
      continue; // not installed (the usual case): fall through to the next candidate
    }
    await setBackend('tensorflow');
    return { name: 'tensorflow', description: `tensorflow (native libtensorflow via ${pkg}, ${device})`, gpu: device === 'GPU' };
  }
  return undefined;
}

/** --use_gpu: tfjs-node-gpu, or a usage error (pdseg stops too): never a silent CPU run. */
async function gpuBackend(choice: BackendChoice): Promise<BackendInfo> {
  const hint = 'drop --use_gpu to train on the CPU (the torch or wasm backend), or install @tensorflow/tfjs-node-gpu (CUDA) for a GPU';
  if (choice !== 'auto' && choice !== 'tensorflow') throw usageError(`--use_gpu asks for a GPU but --backend ${choice} runs on the CPU`, { hint });
  const native = await tryNative(true);
  if (native?.gpu) return native;
  throw usageError('--use_gpu asks for a GPU, but no GPU backend is installed (@tensorflow/tfjs-node-gpu)', { hint });
}

async function tryTorch(threads: number | 'auto' | undefined): Promise<BackendInfo | undefined> {
  if (!torchStatus().available) return undefined; // not installed (the usual case)
  const addon = await registerTorchBackend(explicitThreads(threads));
  await setBackend(TORCH_BACKEND);
  const n = addon.numThreads();
  return { name: TORCH_BACKEND, description: `torch (${addon.config()} via seg's seg-torch addon, ${n} thread${n > 1 ? 's' : ''}) with seg's training kernels` };
}

/** The backend chosen by initBackend, if any. */
export const activeBackend = (): BackendInfo | undefined => active;
