/**
 * The sort behind the Lovász losses, in plain JavaScript: a stable LSD radix sort of
 * (uint32 key, index) pairs, and order-preserving keys for float32 values.
 *
 * Why not tf.topk or Array.prototype.sort: the Lovász gradient (Berman et al. 2018, Alg. 1)
 * needs the exact descending order of every error, with a fixed tie-break, once per class and
 * step. A radix sort is O(n) (2 passes of up to 16 bits over the keys' significant range),
 * stable (equal errors keep pixel order, as PyTorch's `torch.sort(..., stable=True)`), and runs
 * on the errors already read back from the backend, so the sort permutation is a constant of the
 * step, never differentiated.
 */
import { scratch } from './workspace.js';

/** Scratch arrays for sorts of up to `capacity` pairs. */
export class SortBuffers {
  /** Fill keys[0..n) and index[0..n), then call sort(n). */
  keys: Uint32Array;
  index: Uint32Array;
  private keys2: Uint32Array;
  private index2: Uint32Array;
  private readonly hist = scratch.i32('sort.hist', 4 * 65536);
  private readonly g: Float64Array;

  /** Buffers for `capacity` pairs, from the losses' reusable scratch memory (workspace.ts). */
  constructor(capacity: number) {
    this.keys = scratch.u32('sort.keys', capacity);
    this.index = scratch.u32('sort.index', capacity);
    this.keys2 = scratch.u32('sort.keys2', capacity);
    this.index2 = scratch.u32('sort.index2', capacity);
    this.g = scratch.f64('sort.lovasz_grad', capacity);
  }

  /**
   * Alg. 1 of Berman et al. (2018) on the first `n` entries of `order` (sorted by decreasing
   * error; the top bit of an entry flags a foreground pixel): g_k = J_k − J_(k−1), the gradient of
   * the Lovász extension of the Jaccard loss at sorted position k, where J_k = 1 − (G − I_k) /
   * (G + k + 1 − I_k), I_k counts the foreground among the first k + 1 entries and G the foreground
   * of the whole set. A view valid until the next call, in float64.
   */
  lovaszGradient(order: Uint32Array, n: number, G: number): Float64Array {
    const g = this.g;
    let cum = 0;
    let prevJ = 0;
    for (let k = 0; k < n; k++) {
      if (((order[k] as number) & 0x80000000) !== 0) cum++;
      const jac = 1 - (G - cum) / (G + (k + 1 - cum));
      g[k] = jac - prevJ;
      prevJ = jac;
    }
    return g;
  }

  /**
   * Sort the first `n` pairs (`keys[i]`, `index[i]`) by key, ascending and stable (equal keys keep
   * their input order). Returns the indices in sorted order; `keys` then holds the sorted keys.
   * Both are views valid until the next call. `min`/`max` bound the keys, when the caller knows
   * them (else they are computed).
   *
   * LSD radix sort on `key − min`: only the significant bits of the key range are sorted, in as
   * few passes as the digit size allows (digits of up to 16 bits from n = 16384 on, 8 or 11 below,
   * where clearing a large histogram would cost more than a pass). Softmax errors in (0, 1] span
   * 30 bits: 2 passes of 15 bits.
   */
  sort(n: number, min?: number, max?: number): Uint32Array {
    let kIn = this.keys;
    let iIn = this.index;
    let kOut = this.keys2;
    let iOut = this.index2;
    if (min === undefined || max === undefined) {
      min = 0xffffffff;
      max = 0;
      for (let i = 0; i < n; i++) {
        const k = kIn[i] as number;
        if (k < min) min = k;
        if (k > max) max = k;
      }
    }
    if (n <= 1 || max <= min) return iIn.subarray(0, n); // already in order
    const sig = 32 - Math.clz32(max - min);
    const maxBits = n < 1024 ? 8 : n < 16384 ? 11 : 16;
    const passes = Math.ceil(sig / maxBits);
    const bits = Math.ceil(sig / passes);
    const R = 1 << bits;
    const mask = R - 1;
    const h = this.hist;
    h.fill(0, 0, passes * R);
    if (passes === 2) histogram2(kIn, n, min, bits, mask, R, h);
    else histogram(kIn, n, min, passes, bits, mask, R, h);
    for (let p = 0; p < passes; p++) {
      const base = p * R;
      // Counts to start offsets; a digit that every key shares needs no pass.
      let sum = 0;
      let trivial = false;
      for (let d = base; d < base + R; d++) {
        const c = h[d] as number;
        if (c === n) {
          trivial = true;
          break;
        }
        h[d] = sum;
        sum += c;
      }
      if (trivial) continue;
      scatter(kIn, iIn, kOut, iOut, n, h, base, min, p * bits, mask);
      [kIn, kOut] = [kOut, kIn];
      [iIn, iOut] = [iOut, iIn];
    }
    // The sorted data is in kIn/iIn: make them the arrays callers fill next time.
    this.keys = kIn;
    this.index = iIn;
    this.keys2 = kOut;
    this.index2 = iOut;
    return iIn.subarray(0, n);
  }
}

function histogram2(keys: Uint32Array, n: number, min: number, bits: number, mask: number, R: number, h: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const k = ((keys[i] as number) - min) >>> 0;
    const d0 = k & mask;
    const d1 = R + ((k >>> bits) & mask);
    h[d0] = (h[d0] as number) + 1;
    h[d1] = (h[d1] as number) + 1;
  }
}

function histogram(keys: Uint32Array, n: number, min: number, passes: number, bits: number, mask: number, R: number, h: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const k = ((keys[i] as number) - min) >>> 0;
    for (let p = 0, base = 0; p < passes; p++, base += R) {
      const d = base + ((k >>> (p * bits)) & mask);
      h[d] = (h[d] as number) + 1;
    }
  }
}

/** One stable counting-sort pass on the digit ((key − min) >>> shift) & mask, offsets in h[base + digit]. */
function scatter(kIn: Uint32Array, iIn: Uint32Array, kOut: Uint32Array, iOut: Uint32Array, n: number, h: Int32Array, base: number, min: number, shift: number, mask: number): void {
  for (let i = 0; i < n; i++) {
    const k = kIn[i] as number;
    const slot = base + ((((k - min) >>> 0) >>> shift) & mask);
    const q = h[slot] as number;
    h[slot] = q + 1;
    kOut[q] = k;
    iOut[q] = iIn[i] as number;
  }
}

/**
 * Ascending-order key of a float32 given by its bit pattern: for any finite or infinite a, b,
 * `a < b` ⇔ `key(a) < key(b)` as unsigned integers. −0 must be canonicalised to +0 by the caller.
 */
export function ascendingKey(bits: number): number {
  return (bits & 0x80000000) !== 0 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/**
 * Descending-order key of a positive float32 (bits in (0, 0x7f800000]): larger values get smaller
 * keys, so that an ascending sort yields descending values.
 */
export function descendingKeyPositive(bits: number): number {
  return 0x7fffffff - bits;
}
