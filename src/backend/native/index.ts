/**
 * The optional native path: a tfjs backend named `torch` whose heavy kernels run in libtorch through
 * the seg-torch addon (native/seg-torch, an optionalDependency that builds only where libtorch is
 * installed). Registered at run time, and only when the addon loads.
 *
 * The backend is tfjs's pure-JS cpu backend (every cpu kernel is re-registered under `torch`), plus
 * seg's training kernels and gradients (src/backend/kernels, as for cpu and wasm), with the kernels
 * of kernels.ts on top: convolutions and their gradients, seg's fused batch norm and optimiser
 * kernels, element-wise ops, reductions, data movement, resize and matmul. Tensors made by those stay
 * in libtorch (backend.ts); a kernel without a native version copies its inputs out once.
 * SegLovaszSoftmax, the Lovász-Softmax loss, runs in the addon too (native/seg-torch/src/lovasz.cc),
 * bit-identical to the loss's JavaScript reference, on both cores.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerTrainingKernels } from '../kernels/index.js';
import type { HostName } from '../kernels/host.js';
import { type AddonStatus, type TorchAddon, loadTorchAddon } from './addon.js';
import { TorchBackend } from './backend.js';
import { NATIVE_KERNELS, nativeKernelFunc } from './kernels.js';

export { loadTorchAddon, type TorchAddon } from './addon.js';
export { TorchBackend, NativeData } from './backend.js';
export { NATIVE_KERNELS } from './kernels.js';

/** The tfjs backend name of the native path. */
export const TORCH_BACKEND = 'torch';

/** Whether the addon is installed and loads; `reason` says why not. */
export function torchStatus(): { available: boolean; reason: string } {
  const s: AddonStatus = loadTorchAddon();
  return s.addon ? { available: true, reason: s.addon.config() } : { available: false, reason: s.error };
}

let ready: Promise<TorchAddon> | undefined;

/**
 * Register the `torch` backend and its kernels (once per process). Rejects when the addon is not
 * available. `threads`: libtorch's intra-op threads (default: one per core).
 */
export function registerTorchBackend(threads?: number): Promise<TorchAddon> {
  ready ??= (async () => {
    const s = loadTorchAddon();
    if (!s.addon) throw new Error(s.error);
    const addon = s.addon;
    tf.registerBackend(TORCH_BACKEND, () => new TorchBackend(addon), 0);
    for (const k of tf.getKernelsForBackend('cpu')) {
      if (!tf.getKernel(k.kernelName, TORCH_BACKEND)) tf.registerKernel({ ...k, backendName: TORCH_BACKEND });
    }
    // seg's training kernels and gradients, as on cpu (their bodies run on MathBackendCPU's data
    // store, which the torch backend is); they stay the fallbacks of the native versions below.
    // HostName lists 'wasm' | 'cpu'; the torch backend is a cpu host to those kernels.
    await registerTrainingKernels(TORCH_BACKEND as HostName);
    for (const [name, body] of Object.entries(NATIVE_KERNELS)) {
      const prev = tf.getKernel(name, TORCH_BACKEND);
      if (prev) tf.unregisterKernel(name, TORCH_BACKEND);
      tf.registerKernel({ kernelName: name, backendName: TORCH_BACKEND, kernelFunc: nativeKernelFunc(name, body, prev?.kernelFunc) });
    }
    // the op layer's fused conv + BN + activation and direct atrous depthwise convolutions, as on wasm
    // (loaded lazily like kernels/index.ts does: the op layer is not needed to list the backends)
    (await import('../kernels/fast_ops.js')).installFusedOps();
    return addon;
  })();
  const p = ready;
  return p.then((addon) => {
    addon.setNumThreads(threads ?? defaultThreads());
    return addon;
  });
}

/** libtorch threads by default: one per core. */
export function defaultThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}
