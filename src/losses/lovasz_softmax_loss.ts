/**
 * lovasz_softmax_loss: the Lovász-Softmax loss, a surrogate of the mean IoU over classes (Berman,
 * Rannen Triki & Blaschko, CVPR 2018; reference code github.com/bermanmaxim/LovaszSoftmax, MIT).
 *
 * It takes LOGITS `[N, H, W, C]` and applies the softmax over channels itself. For the valid
 * (non-ignored) pixels of a set (the batch, or one image in per-image mode) and each counted
 * class c, with p = softmax(logits) and fg_c = [label = c]:
 *
 *   err_c = |fg_c − p_c|,  π_c = the order of decreasing err_c (ties: pixel order),
 *   loss_c = Σ_k err_c,π(k) · g_k,  g = Alg. 1's Lovász gradient of fg_c,π,
 *
 * with g and π constants of the step. The set's loss is the mean of loss_c over the classes
 * present in its labels ('present', the default) or over all C classes ('all'); per-image mode
 * averages the set losses over the images that have at least one valid pixel. A set without
 * valid pixels gives 0 (and gradient 0). An absent class under 'all' has g = (1, 0, ...): its
 * loss is the largest p_c, which pushes that probability down.
 *
 * Implementation: the softmax runs on the backend; probabilities and labels are read to
 * JavaScript once; valid pixels are compacted and the probabilities transposed class-major; per
 * class, pixels with err > 0 are radix-sorted (lovasz_sort.ts) and one pass gives loss_c and
 * d loss / d p. The backward pass applies the softmax Jacobian in the same JavaScript loop
 * (dz = p ⊙ (dp − Σ_c dp·p)) and uploads one tensor (tf.customGrad).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { customScalar, prepareLabels, resolveLossOptions, type PreparedLabels } from './common.js';
import { descendingKeyPositive, SortBuffers } from './lovasz_sort.js';

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function lovaszSoftmaxCore(logits: tf.Tensor4D, labels: PreparedLabels, options: ResolvedLossOptions): tf.Scalar {
  return customScalar(logits, (z) => {
    const { N, H, W, C, data, ignoreIndex, validCount: V, validPerImage } = labels;
    const P = N * H * W;
    const probs = tf.tidy(() => tf.softmax(z)).dataSync() as Float32Array;

    // Compact the valid pixels: vIndex[v] = pixel, lab[v] = label, pT[c·V + v] = p_c.
    let sawNaN = false;
    const vIndex = new Uint32Array(V);
    const lab = new Int32Array(V);
    const pT = new Float32Array(C * V);
    for (let j = 0, v = 0; j < P; j++) {
      const y = data[j] as number;
      if (y === ignoreIndex) continue;
      vIndex[v] = j;
      lab[v] = y;
      const row = j * C;
      for (let c = 0; c < C; c++) {
        const p = probs[row + c] as number;
        if (p !== p) sawNaN = true;
        pT[c * V + v] = p;
      }
      v++;
    }
    const pTBits = new Uint32Array(pT.buffer);

    // The sets: the whole batch, or one per image, as ranges of the compacted pixels.
    const ranges: Array<[number, number]> = [];
    if (options.perImage) {
      for (let n = 0, start = 0; n < N; n++) {
        const len = validPerImage[n] as number;
        if (len > 0) ranges.push([start, start + len]);
        start += len;
      }
    } else if (V > 0) {
      ranges.push([0, V]);
    }

    const dP = new Float32Array(C * V); // d loss / d p, class-major over compacted pixels
    const counts = new Float64Array(C);
    let maxLen = 0;
    for (const [s, e] of ranges) maxLen = Math.max(maxLen, e - s);
    const buffers = new SortBuffers(maxLen);
    const scratch = new Float32Array(1);
    const scratchBits = new Uint32Array(scratch.buffer);
    let loss = 0;
    for (const [s, e] of ranges) {
      if (sawNaN) break; // non-finite logits: the loss is NaN (the trainer stops on it)
      counts.fill(0);
      for (let v = s; v < e; v++) counts[lab[v] as number] = (counts[lab[v] as number] as number) + 1;
      let nClasses = 0;
      for (let c = 0; c < C; c++) if (options.classes === 'all' || (counts[c] as number) > 0) nClasses++;
      const scale = 1 / (nClasses * ranges.length);
      for (let c = 0; c < C; c++) {
        const G = counts[c] as number;
        if (options.classes === 'present' && G === 0) continue;
        loss += classLoss(c, G, s, e, V, lab, pT, pTBits, dP, scale, buffers, scratch, scratchBits) * scale;
      }
    }
    const value = tf.scalar(sawNaN ? NaN : loss);

    const gradFunc = (dy: tf.Scalar) => {
      const d = (dy.dataSync() as Float32Array)[0] as number;
      const dz = new Float32Array(P * C);
      if (sawNaN) return tf.tensor(dz.fill(NaN), z.shape, 'float32');
      for (let v = 0; v < V; v++) {
        let dot = 0;
        for (let c = 0; c < C; c++) dot += (dP[c * V + v] as number) * (pT[c * V + v] as number);
        const row = (vIndex[v] as number) * C;
        for (let c = 0; c < C; c++) {
          const p = pT[c * V + v] as number;
          dz[row + c] = d * p * ((dP[c * V + v] as number) - dot);
        }
      }
      return tf.tensor(dz, z.shape, 'float32');
    };
    return { value, gradFunc };
  });
}

/**
 * loss_c of one class over the compacted pixels [s, e); writes `scale · d loss_c / d p_c` into
 * dP. G = foreground pixels of class c in the set.
 */
function classLoss(
  c: number,
  G: number,
  s: number,
  e: number,
  V: number,
  lab: Int32Array,
  pT: Float32Array,
  pTBits: Uint32Array,
  dP: Float32Array,
  scale: number,
  buffers: SortBuffers,
  scratch: Float32Array,
  scratchBits: Uint32Array,
): number {
  const base = c * V;
  const total = e - s;
  if (G === 0) {
    // Absent class ('all'): g = (1, 0, ...), loss = the largest p_c (first pixel among ties).
    let best = -1;
    let bestP = 0;
    for (let v = s; v < e; v++) {
      const p = pT[base + v] as number;
      if (p > bestP) {
        best = v;
        bestP = p;
      }
    }
    if (best >= 0) dP[base + best] = scale;
    return bestP;
  }
  if (G === total) {
    // Only class c in the set: g_k = 1/G everywhere, loss = mean of 1 − p_c.
    let loss = 0;
    for (let v = s; v < e; v++) {
      const p = pT[base + v] as number;
      if (p < 1) {
        loss += 1 - p;
        dP[base + v] = -scale / G;
      }
    }
    return loss / G;
  }
  const keys = buffers.keys;
  const index = buffers.index;
  let n = 0;
  for (let v = s; v < e; v++) {
    const p = pT[base + v] as number;
    if (lab[v] === c) {
      if (p < 1) {
        scratch[0] = 1 - p;
        keys[n] = descendingKeyPositive(scratchBits[0] as number);
        index[n++] = v;
      }
    } else if (p > 0) {
      keys[n] = descendingKeyPositive(pTBits[base + v] as number);
      index[n++] = v;
    }
  }
  const order = buffers.sort(n);
  let loss = 0;
  let cum = 0;
  let prevJ = 0;
  for (let k = 0; k < n; k++) {
    const v = order[k] as number;
    const fg = lab[v] === c ? 1 : 0;
    cum += fg;
    const jac = 1 - (G - cum) / (G + (k + 1 - cum));
    const g = jac - prevJ;
    prevJ = jac;
    const p = pT[base + v] as number;
    if (fg === 1) {
      loss += (1 - p) * g;
      dP[base + v] = -g * scale;
    } else {
      loss += p * g;
      dP[base + v] = g * scale;
    }
  }
  return loss;
}

/**
 * Lovász-Softmax loss of LOGITS `[N, H, W, C]` (C ≥ 2; the softmax over channels is applied here)
 * against labels `[N, H, W]` (class indices or `ignoreIndex`). Options: `ignoreIndex` (255),
 * `perImage` (false: pool the batch as pdseg), `classes` ('present' or 'all'). Returns a scalar;
 * gradients are exactly Alg. 1's through the softmax.
 */
export const lovaszSoftmaxLoss: LossFn = (logits, labels, options) => {
  const opts = resolveLossOptions(options);
  const prepared = prepareLabels('lovasz_softmax_loss', 'multi-channel', logits, labels, opts.ignoreIndex);
  return tf.tidy(() => lovaszSoftmaxCore(logits, prepared, opts));
};
