/**
 * An independent, deliberately naive implementation of the Lovász losses in float64 (Berman et
 * al. 2018, Alg. 1), written from the paper for the tests: Array.prototype.sort with an explicit
 * (error descending, pixel index ascending) comparator instead of seg's radix sort, the Lovász
 * gradient as the paper's Jaccard differences, and the loss gradient as the chain rule through a
 * constant permutation. It shares no code with src/losses.
 */

/** Alg. 1: the Lovász gradient of the IoU loss for ground truth sorted by decreasing error. */
export function lovaszGrad(gtSorted: readonly number[]): number[] {
  const G = gtSorted.reduce((a, b) => a + b, 0);
  const jaccard: number[] = [];
  let cumFg = 0;
  let cumBg = 0;
  for (const y of gtSorted) {
    cumFg += y;
    cumBg += 1 - y;
    jaccard.push(1 - (G - cumFg) / (G + cumBg));
  }
  return jaccard.map((j, i) => (i === 0 ? j : j - (jaccard[i - 1] as number)));
}

/** Indices of `errors` by decreasing error, ties by increasing index. */
function order(errors: readonly number[]): number[] {
  return errors.map((_, i) => i).sort((a, b) => (errors[b] as number) - (errors[a] as number) || a - b);
}

/** Value and d/d errors of Σ relu(err_sorted)·g (hinge) or Σ err_sorted·g (softmax, err ≥ 0). */
function lovaszFlat(errors: readonly number[], gt: readonly number[], relu: boolean): { value: number; dErr: number[] } {
  const dErr = errors.map(() => 0);
  if (errors.length === 0) return { value: 0, dErr };
  const perm = order(errors);
  const g = lovaszGrad(perm.map((i) => gt[i] as number));
  let value = 0;
  perm.forEach((i, k) => {
    const e = errors[i] as number;
    const active = relu ? e > 0 : e !== 0; // d relu(e)/de = 0 at e ≤ 0; d|fg − p|/dp = 0 at 0 (torch)
    if (relu ? e > 0 : true) value += e * (g[k] as number);
    if (active) dErr[i] = g[k] as number;
  });
  return { value, dErr };
}

export interface NaiveOptions {
  ignoreIndex: number;
  perImage: boolean;
  classes?: 'present' | 'all';
}

/** The sets the losses average over: the batch, or each image with at least one valid pixel. */
function sets(N: number, HW: number, labels: ArrayLike<number>, o: NaiveOptions): number[][] {
  const all: number[][] = [];
  const groups = o.perImage ? Array.from({ length: N }, (_, n) => [n * HW, (n + 1) * HW]) : [[0, N * HW]];
  for (const [s, e] of groups) {
    const pixels: number[] = [];
    for (let j = s as number; j < (e as number); j++) if (labels[j] !== o.ignoreIndex) pixels.push(j);
    if (pixels.length > 0) all.push(pixels);
  }
  return all;
}

/** Lovász hinge of one-channel logits (NHW order) and labels: value and d/d logits. */
export function naiveHinge(N: number, HW: number, logits: ArrayLike<number>, labels: ArrayLike<number>, o: NaiveOptions): { value: number; grad: number[] } {
  const grad = Array.from({ length: N * HW }, () => 0);
  const ss = sets(N, HW, labels, o);
  let value = 0;
  for (const pixels of ss) {
    const signs = pixels.map((j) => 2 * (labels[j] as number) - 1);
    const errors = pixels.map((j, i) => 1 - (logits[j] as number) * (signs[i] as number));
    const r = lovaszFlat(errors, pixels.map((j) => labels[j] as number), true);
    value += r.value / ss.length;
    pixels.forEach((j, i) => (grad[j] = (grad[j] as number) - ((r.dErr[i] as number) * (signs[i] as number)) / ss.length));
  }
  return { value, grad };
}

/** softmax of each C-vector of row-major [P, C] logits, in float64. */
export function softmax64(logits: ArrayLike<number>, P: number, C: number): number[] {
  const p: number[] = [];
  for (let j = 0; j < P; j++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[j * C + c] as number);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp((logits[j * C + c] as number) - m);
    for (let c = 0; c < C; c++) p.push(Math.exp((logits[j * C + c] as number) - m) / s);
  }
  return p;
}

/** Lovász-Softmax of NHWC logits and labels: value and d/d logits (through the softmax). */
export function naiveLovaszSoftmax(
  N: number,
  HW: number,
  C: number,
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  o: NaiveOptions,
  /**
   * Probabilities to use instead of the float64 softmax of the logits, with errors rounded to
   * float32: for large sets, where errors closer than float32's resolution are common and float64
   * would order them differently (each such swap changes two gradient entries by ≈ 2/(set size)).
   */
  float32Probs?: ArrayLike<number>,
): { value: number; grad: number[] } {
  const P = N * HW;
  const p = float32Probs ? Array.from(float32Probs) : softmax64(logits, P, C);
  const dP = Array.from({ length: P * C }, () => 0);
  const ss = sets(N, HW, labels, o);
  let value = 0;
  for (const pixels of ss) {
    const classes = Array.from({ length: C }, (_, c) => c).filter((c) => o.classes === 'all' || pixels.some((j) => labels[j] === c));
    for (const c of classes) {
      const fg = pixels.map((j) => (labels[j] === c ? 1 : 0));
      const errors = pixels.map((j, i) => {
        const e = Math.abs((fg[i] as number) - (p[j * C + c] as number));
        return float32Probs ? Math.fround(e) : e;
      });
      const r = lovaszFlat(errors, fg, false);
      const w = 1 / (classes.length * ss.length);
      value += r.value * w;
      // d|fg − p|/dp = −1 for fg (p < 1), +1 for background (p > 0)
      pixels.forEach((j, i) => (dP[j * C + c] = (dP[j * C + c] as number) + (r.dErr[i] as number) * w * ((fg[i] as number) === 1 ? -1 : 1)));
    }
  }
  const grad: number[] = [];
  for (let j = 0; j < P; j++) {
    let dot = 0;
    for (let c = 0; c < C; c++) dot += (dP[j * C + c] as number) * (p[j * C + c] as number);
    for (let c = 0; c < C; c++) grad.push((p[j * C + c] as number) * ((dP[j * C + c] as number) - dot));
  }
  return { value, grad };
}
