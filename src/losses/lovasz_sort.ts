/**
 * The sort behind the Lovász losses, in plain JavaScript: a stable LSD radix sort of
 * (uint32 key, index) pairs, and order-preserving keys for float32 values.
 *
 * Why not tf.topk or Array.prototype.sort: the Lovász gradient (Berman et al. 2018, Alg. 1)
 * needs the exact descending order of every error, with a fixed tie-break, once per class and
 * step. A radix sort is O(n) (3 passes of 11 bits over 32-bit keys), stable (equal errors keep
 * pixel order, as PyTorch's `torch.sort(..., stable=True)`), and runs on the errors already read
 * back from the backend, so the sort permutation is a constant of the step, never differentiated.
 */

/** Scratch arrays for one sort of up to `capacity` pairs. */
export class SortBuffers {
  keys: Uint32Array;
  index: Uint32Array;
  private keys2: Uint32Array;
  private index2: Uint32Array;
  private readonly hist = new Uint32Array(3 * 2048);

  constructor(capacity: number) {
    this.keys = new Uint32Array(capacity);
    this.index = new Uint32Array(capacity);
    this.keys2 = new Uint32Array(capacity);
    this.index2 = new Uint32Array(capacity);
  }

  /**
   * Sort the first `n` pairs (`keys[i]`, `index[i]`) by key, ascending and stable. Returns the
   * indices in sorted order (a view of one of the scratch arrays, valid until the next sort).
   */
  sort(n: number): Uint32Array {
    let kIn = this.keys;
    let iIn = this.index;
    let kOut = this.keys2;
    let iOut = this.index2;
    const h = this.hist;
    h.fill(0);
    for (let i = 0; i < n; i++) {
      const k = kIn[i] as number;
      const d0 = k & 0x7ff;
      const d1 = 2048 + ((k >>> 11) & 0x7ff);
      const d2 = 4096 + (k >>> 22);
      h[d0] = (h[d0] as number) + 1;
      h[d1] = (h[d1] as number) + 1;
      h[d2] = (h[d2] as number) + 1;
    }
    for (let pass = 0; pass < 3; pass++) {
      const base = pass * 2048;
      const shift = pass * 11;
      // Turn counts into start offsets; a digit that every key shares needs no pass.
      let sum = 0;
      let trivial = false;
      for (let d = 0; d < 2048; d++) {
        const c = h[base + d] as number;
        if (c === n) {
          trivial = true;
          break;
        }
        h[base + d] = sum;
        sum += c;
      }
      if (trivial) continue;
      for (let i = 0; i < n; i++) {
        const k = kIn[i] as number;
        const slot = base + ((k >>> shift) & 0x7ff);
        const p = h[slot] as number;
        h[slot] = p + 1;
        kOut[p] = k;
        iOut[p] = iIn[i] as number;
      }
      [kIn, kOut] = [kOut, kIn];
      [iIn, iOut] = [iOut, iIn];
    }
    // Keep the roles straight for the next call: the sorted data lives in kIn/iIn.
    this.keys2 = kOut;
    this.index2 = iOut;
    this.keys = kIn;
    this.index = iIn;
    return iIn.subarray(0, n);
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
