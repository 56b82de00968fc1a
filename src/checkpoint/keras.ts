/**
 * Keras MobileNetV2 weights (as tfjs-converter writes a Keras model: a `layers-model` model.json
 * whose weightsManifest names weights `<layer>/<weight>`) mapped onto seg's backbone names.
 *
 *   Conv1/kernel                              → backbone/stem/kernel
 *   bn_Conv1/{gamma,beta,moving_mean,moving_variance} → backbone/stem/bn/…
 *   expanded_conv_depthwise/depthwise_kernel  → backbone/block_0/depthwise/kernel
 *   expanded_conv_depthwise_BN/…              → backbone/block_0/depthwise/bn/…
 *   expanded_conv_project/kernel (+ _BN)      → backbone/block_0/project/…
 *   block_<i>_{expand,depthwise,project}[_BN]/… → backbone/block_<i>/{expand,depthwise,project}[/bn]/…
 *   Conv_1, Conv_1_bn, Logits, predictions    → unused (seg stops at the 320-channel block)
 *
 * A prefix before the layer name (a nested model's name, e.g. `mobilenetv2_1.00_224/Conv1/kernel`)
 * and a `:0` suffix are ignored. Keras's batch norm uses ε = 1e-3 where seg uses MODEL.DEFAULT_EPSILON
 * (1e-5); the statistics load as they are.
 */
import type { NamedTensor } from './weights_io.js';

const NORM_PARAMS = new Set(['gamma', 'beta', 'moving_mean', 'moving_variance']);

/** seg's name for a Keras MobileNetV2 weight name, or undefined for weights seg does not build. */
export function kerasToSegName(kerasName: string): string | undefined {
  const parts = kerasName.replace(/:\d+$/, '').split('/');
  if (parts.length < 2) return undefined;
  const layer = parts[parts.length - 2] as string;
  const param = parts[parts.length - 1] as string;
  const conv = (base: string): string | undefined => (param === 'kernel' || param === 'depthwise_kernel' ? `${base}/kernel` : undefined);
  const norm = (base: string): string | undefined => (NORM_PARAMS.has(param) ? `${base}/bn/${param}` : undefined);
  if (layer === 'Conv1') return conv('backbone/stem');
  if (layer === 'bn_Conv1') return norm('backbone/stem');
  let m = /^expanded_conv_(depthwise|project)(_BN)?$/.exec(layer);
  if (m) return m[2] ? norm(`backbone/block_0/${m[1]}`) : conv(`backbone/block_0/${m[1]}`);
  m = /^block_(\d+)_(expand|depthwise|project)(_BN)?$/.exec(layer);
  if (m) return m[3] ? norm(`backbone/block_${Number(m[1])}/${m[2]}`) : conv(`backbone/block_${Number(m[1])}/${m[2]}`);
  return undefined;
}

/** Whether a parsed model.json is a tfjs layers model (Keras topology). */
export function isKerasLayersModel(manifest: { format?: string; modelTopology?: unknown }): boolean {
  if (manifest.format === 'layers-model') return true;
  const topo = manifest.modelTopology as { keras_version?: unknown; model_config?: unknown } | undefined;
  return manifest.format === undefined && topo !== undefined && topo !== null && (topo.keras_version !== undefined || topo.model_config !== undefined);
}

/** Rename Keras weights to seg's names; weights seg does not build are returned as `unused` (not disposed). */
export function kerasToSegWeights(weights: readonly NamedTensor[]): { weights: NamedTensor[]; unused: NamedTensor[] } {
  const out: NamedTensor[] = [];
  const unused: NamedTensor[] = [];
  const seen = new Set<string>();
  for (const w of weights) {
    const name = kerasToSegName(w.name);
    if (name === undefined || seen.has(name)) {
      unused.push(w);
      continue;
    }
    seen.add(name);
    out.push({ name, tensor: w.tensor });
  }
  return { weights: out, unused };
}
