/**
 * Seeded random numbers. Every random choice in seg (data order, augmentation, initialisation,
 * dropout) comes from a generator derived from the run's SEED, so `--seed` makes a run
 * reproducible and a resumed run draws exactly what the uninterrupted one would have.
 *
 * Generators are counter-based in spirit: `deriveSeed(seed, ...path)` hashes a seed and a path of
 * integers (e.g. [epoch, sampleIndex]) into a new 32-bit seed, so a sample's augmentation does not
 * depend on which worker thread processed it or on how many numbers other samples drew.
 * The generator itself is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), whose full
 * state is four 32-bit words: `state()`/`fromState()` save and restore it exactly.
 */

export type RngState = readonly [number, number, number, number];

/** The largest seed: generators take 32-bit seeds, so larger ones would alias smaller ones. */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * The streams derived from one seed, each under its own salt (`deriveSeed(seed, SALT.x, ...)`), so
 * that no two uses draw the same numbers. Changing a value changes every run's results.
 */
export const SALT = Object.freeze({
  /** Weight initialisation of a new model, from the run seed. */
  init: 0x1217,
  /** The forward pass of training step t, from the run seed (with t); dropout, from that step's seed. */
  dropout: 0xd0,
  /** A model.apply call given no seed, from the model's seed (with the call count). */
  apply: 0xa991,
  /** The order of epoch e's samples, from the run seed (with e). */
  dataOrder: 0x0da7a0,
  /** The augmentation of the sample at position p of epoch e, from the run seed (with e, p). */
  dataAugment: 0x0da7a1,
});

/** 32-bit mix (MurmurHash3's finaliser). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A new 32-bit seed from `seed` and a path of non-negative integers. */
export function deriveSeed(seed: number, ...path: number[]): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  for (const p of path) {
    // Mix both halves so that path values above 2^32 still matter.
    h = fmix32(h ^ fmix32((p >>> 0) + 0x7f4a7c15));
    h = fmix32(h ^ fmix32(Math.floor(p / 4294967296) + 0x165667b1));
  }
  return h;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  static fromState(s: RngState): Rng {
    const r = new Rng(0);
    [r.a, r.b, r.c, r.d] = s.map((v) => v >>> 0) as [number, number, number, number];
    return r;
  }

  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), 53 bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer uniform in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = p[i] as number;
      p[i] = p[j] as number;
      p[j] = t;
    }
    return p;
  }

  /** Pick one element. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('choice from an empty list');
    return items[Math.floor(this.random() * items.length)] as T;
  }
}
