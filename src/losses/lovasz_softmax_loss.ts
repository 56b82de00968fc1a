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
 * Implementation: the softmax and a transpose to class-major order run on the backend; the
 * probabilities of the valid pixels are copied to the CPU once; per class, pixels with err > 0
 * are radix-sorted (lovasz_sort.ts) and one pass gives loss_c and d loss / d p. When a gradient
 * is being recorded, the softmax Jacobian is applied in JavaScript too (dz = p ⊙ (dp − Σ_c dp·p),
 * class-major, transposed back on the backend) and the result uploaded once (tf.customGrad).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn, ResolvedLossOptions } from './types.js';
import { prepareLabels, resolveLossOptions, withPrecomputedGradient, type PreparedLabels } from './common.js';
import { peek, scratch, tensorFrom } from './workspace.js';
import { descendingKeyPositive, SortBuffers } from './lovasz_sort.js';

/**
 * The backend kernel that computes this loss and its gradient from the probabilities, where the
 * backend has one (seg registers it on wasm and torch: src/backend/kernels/lovasz.ts). It computes
 * exactly what the JavaScript below computes (bit-identical; the tests check it), with fewer passes
 * over memory; the JavaScript stays the reference and serves every other backend.
 */
export const LOVASZ_SOFTMAX_KERNEL = 'SegLovaszSoftmax';

/** The loss with checked inputs (build.ts calls this after preparing the labels once). */
export function lovaszSoftmaxCore(logits: tf.Tensor4D, labels: PreparedLabels, options: ResolvedLossOptions): tf.Scalar {
  return withPrecomputedGradient(logits, (recording) => {
    if (tf.getKernel(LOVASZ_SOFTMAX_KERNEL, tf.getBackend()) !== undefined) {
      const attrs = { ignoreIndex: labels.ignoreIndex, perImage: options.perImage, classes: options.classes, gradient: recording };
      const out = tf.engine().runKernel(LOVASZ_SOFTMAX_KERNEL, { logits, labels: labels.tensor }, attrs) as tf.Tensor[];
      const value = (out[0] as tf.Tensor).dataSync()[0] as number;
      const grad = out[1];
      return grad === undefined ? { value } : { value, gradient: () => grad };
    }
    const { N, H, W, C, data, ignoreIndex, validCount: V, validPerImage } = labels;
    const P = N * H * W;
    // The probabilities class-major [C, P] (transposed on the backend), copied to the CPU for the
    // valid pixels only, so that the per-class loops read memory in order: vIndex[v] = pixel
    // (undefined when no pixel is ignored), lab[v] = label, pT[c·V + v] = p_c.
    const probsCM = tf.transpose(tf.reshape(tf.softmax(logits), [P, C]));
    const { vIndex, lab, pT, sawNaN } = compact(peek(probsCM) as Float32Array, data, ignoreIndex, C, V);
    const pTBits = new Uint32Array(pT.buffer, pT.byteOffset, pT.length);

    const ranges = pixelSets(validPerImage, N, V, options.perImage);

    const dP = scratch.f32('lovasz_softmax.dP', C * V); // scale · d loss / d p, class-major
    dP.fill(0);
    const counts = new Float64Array(C);
    const maxFgP = new Float64Array(C);
    let maxLen = 0;
    for (const [s, e] of ranges) maxLen = Math.max(maxLen, e - s);
    const buffers = new SortBuffers(maxLen);
    let loss = 0;
    for (const [s, e] of sawNaN ? [] : ranges) {
      countLabels(lab, pT, V, s, e, counts, maxFgP);
      let nClasses = 0;
      for (let c = 0; c < C; c++) if (options.classes === 'all' || (counts[c] as number) > 0) nClasses++;
      const scale = 1 / (nClasses * ranges.length);
      for (let c = 0; c < C; c++) {
        const G = counts[c] as number;
        if (options.classes === 'present' && G === 0) continue;
        loss += classLoss(c, G, maxFgP[c] as number, s, e, V, lab, pT, pTBits, dP, scale, buffers) * scale;
      }
    }
    if (!recording) return { value: sawNaN ? NaN : loss };
    // d loss / d z = p ⊙ (dP − Σ_c dP_c p_c), class-major, transposed back on the backend.
    const dzCM = scratch.f32('gradient', C * P);
    if (sawNaN) dzCM.fill(NaN);
    else softmaxBackward(pT, dP, vIndex, C, V, P, dzCM);
    return {
      value: sawNaN ? NaN : loss,
      gradient: () => tf.reshape(tf.transpose(tensorFrom(dzCM, [C, P])), logits.shape),
    };
  });
}

/**
 * The valid pixels of class-major probabilities [C, P] (a read-only view), copied to scratch
 * memory: vIndex[v] = pixel (undefined when no pixel is ignored), lab[v] = label, pT = [C, V];
 * and whether any probability is NaN (a NaN or infinite logit makes its whole pixel NaN, so
 * class 0 tells).
 */
function compact(probsCM: Float32Array, data: Int32Array, ignoreIndex: number, C: number, V: number): { vIndex: Uint32Array | undefined; lab: Uint16Array; pT: Float32Array; sawNaN: boolean } {
  const P = data.length;
  const pT = scratch.f32('lovasz_softmax.p', C * V);
  // Labels as 16-bit integers: the per-class loops read them C times.
  const lab = scratch.u16('lovasz_softmax.lab', V);
  let vIndex: Uint32Array | undefined;
  if (V === P) {
    lab.set(data);
    pT.set(probsCM);
  } else {
    vIndex = scratch.u32('lovasz_softmax.vIndex', V);
    for (let j = 0, v = 0; j < P; j++) {
      const y = data[j] as number;
      if (y === ignoreIndex) continue;
      vIndex[v] = j;
      lab[v++] = y;
    }
    for (let c = 0; c < C; c++) gather(probsCM, c * P, vIndex, pT, c * V);
  }
  let nan = false;
  for (let v = 0; v < V; v++) if ((pT[v] as number) !== (pT[v] as number)) nan = true;
  return { vIndex, lab, pT, sawNaN: nan };
}

function gather(from: Float32Array, fromBase: number, index: Uint32Array, to: Float32Array, toBase: number): void {
  for (let v = 0; v < index.length; v++) to[toBase + v] = from[fromBase + (index[v] as number)] as number;
}

/** Pixels of each class in [s, e), and each class's largest probability on its own pixels. */
function countLabels(lab: Uint16Array, pT: Float32Array, V: number, s: number, e: number, counts: Float64Array, maxFgP: Float64Array): void {
  counts.fill(0);
  maxFgP.fill(0);
  for (let v = s; v < e; v++) {
    const y = lab[v] as number;
    counts[y] = (counts[y] as number) + 1;
    const p = pT[y * V + v] as number;
    if (p > (maxFgP[y] as number)) maxFgP[y] = p;
  }
}

/**
 * dz = p ⊙ (dP − Σ_c dP_c p_c), class-major [C, P]; 0 at ignored pixels. (Two sequential passes:
 * accumulating Σ_c dP_c p_c during the per-class walks instead costs a random read-modify-write
 * per pixel, much slower once the arrays outgrow the caches.)
 */
function softmaxBackward(pT: Float32Array, dP: Float32Array, vIndex: Uint32Array | undefined, C: number, V: number, P: number, dz: Float32Array): void {
  const dot = scratch.f64('lovasz_softmax.dot', V);
  dot.fill(0);
  for (let c = 0; c < C; c++) {
    const base = c * V;
    for (let v = 0; v < V; v++) dot[v] = (dot[v] as number) + (dP[base + v] as number) * (pT[base + v] as number);
  }
  if (vIndex !== undefined) dz.fill(0);
  for (let c = 0; c < C; c++) {
    const base = c * V;
    const out = c * P;
    if (vIndex === undefined) {
      for (let v = 0; v < V; v++) dz[out + v] = (pT[base + v] as number) * ((dP[base + v] as number) - (dot[v] as number));
    } else {
      for (let v = 0; v < V; v++) dz[out + (vIndex[v] as number)] = (pT[base + v] as number) * ((dP[base + v] as number) - (dot[v] as number));
    }
  }
}

/**
 * loss_c of the two kinds of class that need no sort, over the compacted pixels [s, e): an absent
 * class (G = 0, classes 'all') and the set's only class (G = e − s). Writes `scale · d loss_c / d p_c`
 * into dP, whose range [c·V + s, c·V + e) the caller has zeroed. Shared with the SegLovaszSoftmax
 * kernel (src/backend/kernels/lovasz.ts), so both paths compute these cases identically.
 */
export function unsortedClassLoss(c: number, G: number, s: number, e: number, V: number, pT: Float32Array, dP: Float32Array, scale: number): number {
  const base = c * V;
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
  // Only class c in the set: g_k = 1/G at every position, loss = mean of 1 − p_c.
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

/**
 * The sets a Lovász loss averages over, as ranges of the compacted valid pixels (image after
 * image): the whole batch, or one per image that has a valid pixel (per-image mode).
 */
export function pixelSets(validPerImage: ArrayLike<number>, N: number, V: number, perImage: boolean): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  if (perImage) {
    for (let n = 0, start = 0; n < N; n++) {
      const len = validPerImage[n] as number;
      if (len > 0) ranges.push([start, start + len]);
      start += len;
    }
  } else if (V > 0) {
    ranges.push([0, V]);
  }
  return ranges;
}

/**
 * loss_c of one class over the compacted pixels [s, e); writes `scale · d loss_c / d p_c` into
 * dP. G = foreground pixels of class c in the set, maxFgP = the largest p_c among them.
 */
function classLoss(
  c: number,
  G: number,
  maxFgP: number,
  s: number,
  e: number,
  V: number,
  lab: Uint16Array,
  pT: Float32Array,
  pTBits: Uint32Array,
  dP: Float32Array,
  scale: number,
  buffers: SortBuffers,
): number {
  if (G === 0 || G === e - s) return unsortedClassLoss(c, G, s, e, V, pT, dP, scale);
  const base = c * V;
  // Candidates: pixels with a positive error (the others add 0 and have gradient 0), keyed by
  // decreasing error; the index carries the foreground flag in its top bit. A background pixel
  // whose error p_c is below every foreground error 1 − p_c sorts after the last foreground
  // pixel, where I = 0 and J = 1 stay constant: g = 0, so it is left out too.
  const minFgErrBits = f32bits(1 - maxFgP);
  const keys = buffers.keys;
  const index = buffers.index;
  const one = 0x3f800000; // bits of 1.0f
  let n = 0;
  let min = 0xffffffff;
  let max = 0;
  for (let v = s; v < e; v++) {
    const bits = pTBits[base + v] as number;
    let key: number;
    if (lab[v] === c) {
      if (bits >= one) continue; // p = 1: err = 0
      // err = 1 − p, exact in float32 for p ≥ 0.5; below, the float32 rounding of 1 − p only
      // orders errors that agree to 6e-8.
      key = descendingKeyPositive(f32bits(1 - (pT[base + v] as number)));
      index[n] = (v | 0x80000000) >>> 0;
    } else {
      if (bits === 0 || bits < minFgErrBits) continue; // err = 0, or after the last foreground pixel
      key = descendingKeyPositive(bits);
      index[n] = v;
    }
    keys[n++] = key;
    if (key < min) min = key;
    if (key > max) max = key;
  }
  const order = buffers.sort(n, min, max);
  // The sorted keys give the errors back (float32), so the walk reads memory in order and only
  // writes dP at random.
  const sortedKeys = buffers.keys;
  const gk = buffers.lovaszGradient(order, n, G);
  let loss = 0;
  for (let k = 0; k < n; k++) {
    const tagged = order[k] as number;
    const v = tagged & 0x7fffffff;
    f32u[0] = 0x7fffffff - (sortedKeys[k] as number);
    const err = f32[0] as number;
    const g = gk[k] as number;
    loss += err * g;
    dP[base + v] = tagged !== v ? -g * scale : g * scale;
  }
  return loss;
}

const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);
/** Bits of the float32 nearest to x. */
function f32bits(x: number): number {
  f32[0] = x;
  return f32u[0] as number;
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
