/**
 * tfjs-core's own gradient functions (Sum, Add, Conv2D, Relu6, ResizeBilinear, ...).
 *
 * `@tensorflow/tfjs-core`'s Node entry point (a CommonJS bundle) registers no gradients at all:
 * they live only in its ESM tree (`dist/register_all_gradients.js` → `dist/gradients/*.js`), which
 * Node cannot load as published (its relative imports have no `.js` extension). Without them
 * tf.grad / optimizer.minimize fail with "gradient function not found for Sum".
 *
 * Two ways to get them, tried in this order:
 *  1. the `@tensorflow/tfjs` union package, whose Node bundle inlines them and registers them with
 *     the shared tfjs-core instance when loaded (≈ 0.3 s; seg's op layer imports it too);
 *  2. tfjs-core's own ESM tree, loaded through a module-resolution hook (node:module `register`)
 *     that adds the missing extension for imports made from inside tfjs-core's dist/ folder, and
 *     nothing else (≈ 1.5 s). The ESM copy shares tfjs's global engine and registries with the
 *     CommonJS copy (tfjs keeps them on a global namespace for exactly this case).
 * Either runs only when a backend is initialised for computing, never at import time.
 */
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

const HOOK = `
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent !== undefined && parent.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    try {
      return await next(specifier + '.js', context);
    } catch {
      return next(specifier + '/index.js', context);
    }
  }
  return next(specifier, context);
}
`;

let loading: Promise<void> | undefined;

/** True once tfjs-core's gradients are registered (checked on a few ops every step uses). */
export function tfjsGradientsRegistered(): boolean {
  return ['Sum', 'Add', 'Multiply', 'Reshape', 'Relu6'].every((k) => tf.getGradient(k) !== undefined);
}

/** Register tfjs-core's gradients in this process (idempotent; concurrent calls share one load). */
export function registerTfjsGradients(): Promise<void> {
  if (loading) return loading;
  loading = (async () => {
    if (tfjsGradientsRegistered()) return;
    try {
      await import('@tensorflow/tfjs' as string);
    } catch {
      /* the union package is not installed: load tfjs-core's ESM tree instead */
    }
    if (tfjsGradientsRegistered()) return;
    register('data:text/javascript,' + encodeURIComponent(HOOK));
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js' as string);
    if (!tfjsGradientsRegistered()) throw new Error("tfjs-core's gradients did not register (is @tensorflow/tfjs-core's dist/ tree complete?)");
  })();
  return loading;
}
