/** Backend set-up shared by the loss tests. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTfjsGradients } from '../../src/backend/kernels/tfjs_gradients.js';

/** The backends every loss test runs on. */
export const BACKENDS = ['cpu', 'wasm'] as const;

/**
 * Make `name` the active backend, with tfjs-core's gradients registered (its Node bundle ships
 * none; the backend module loads them, see src/backend/kernels/tfjs_gradients.ts).
 */
export async function useBackend(name: (typeof BACKENDS)[number]): Promise<void> {
  await initBackend({ backend: name });
  if (tf.getGradient('Sum') === undefined) await registerTfjsGradients();
}
