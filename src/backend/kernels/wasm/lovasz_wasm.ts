/**
 * The hot loops of the Lovász-Softmax kernel (../lovasz.ts) as WebAssembly, generated with
 * emit.ts's encoder and instantiated on tfjs-backend-wasm's own memory, so that they read the
 * probabilities and write the gradient in place on the wasm heap. Scalar code, plus 128-bit SIMD
 * variants of the two streaming passes (lz_build_simd, lz_backward_simd); the sort is scalar
 * (scattered stores).
 *
 * The functions compute exactly what src/losses/lovasz_softmax_loss.ts's JavaScript does, with the
 * same float32/float64 operations in the same order (so the results are bit-identical), only
 * laid out for fewer passes over memory:
 *
 *   lz_compact(probs, labels, j0, j1, C, ignore, pT, V, lab, vIndex, v0, out)
 *       pixels [j0, j1) of NHWC probabilities: the valid ones (label ≠ ignore) appended from
 *       compacted index v0 on: lab[v] = label (u16), pT[c·V + v] = p_c (class-major), vIndex[v] = j
 *       (when vIndex ≠ 0). out[0] (i32) = v after the range; out[1] |= 1 when a p_0 is NaN.
 *   lz_count(lab, pT, V, s, e, counts, maxFgP)
 *       counts[y] += 1 and maxFgP[y] = max(maxFgP[y], p_y) over [s, e) (float64 arrays).
 *   lz_build(c, minFgErrBits, s, e, V, lab, pT, A, out, dP)         (and lz_build_simd)
 *       class c's candidates as 8-byte entries (tagged index, key): foreground pixels with p < 1
 *       (key of 1 − p, index | 2³¹) and background pixels with p ≠ 0 and bits(p) ≥ minFgErrBits
 *       (key of p), in pixel order; key = 0x7fffffff − bits(error), so that ascending keys are
 *       descending errors. out[0..2] (i32) = n, min key, max key. Also clears dP_c over [s, e).
 *   lz_sortwalk(A, B, n, min, max, hist, G, dPc, scale, out, walk)
 *       stable sort of the n entries of A by key: one most-significant-digit pass into about n/1024
 *       buckets (A → B), then each bucket sorted while it is in cache (insertion sort up to
 *       INSERTION_MAX entries, else least-significant-digit passes of ≤ min(11, log2 size) bits using A's slots as
 *       temporary space) and, when walk = 1, walked at once: Alg. 1's Jaccard differences g
 *       (float64), loss += err·g into out[0] (f64), dPc[v] = ∓g·scale. With walk = 0 the sorted
 *       entries are left in B (for the tests).
 *   lz_backward(pT, dP, vIndex, C, V, dz, P, dot, v0, v1, j0)       (and lz_backward_simd)
 *       dz[j, c] = p_c·(dP_c − Σ_k dP_k·p_k) for the valid pixels v ∈ [v0, v1), written NHWC
 *       (j = vIndex[v], or v when vIndex = 0), in blocks of BACKWARD_BLOCK pixels (dot: that many
 *       float64 slots); the rows of ignored pixels from row j0 to row P are set to 0. A range of
 *       pixels writes only its own rows, so ranges can run on different threads.
 *
 * All pointers are byte addresses into the heap (unsigned; the heap may exceed 2 GB); counts are
 * below 2³¹. Entries are little-endian pairs of i32 (tagged index at +0, key at +4), moved as i64.
 */
import { type Code, Func, buildModule, f32, f32c, f32x4, f64, f64c, f64x2, forLoop, get, i32, i32c, ifElse, ifThen, loadF32, loadF64, memarg, set, simd, storeF32, storeF64, v128, vbin, vun } from './emit.js';

// ---- instructions emit.ts does not provide ----
const bin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, op];
const un = (op: number) => (a: Code): Code => [...a, op];
const u32 = {
  shr: bin(0x76),
  or: bin(0x72),
  clz: un(0x67),
  gt: bin(0x4b),
  le: bin(0x4d),
  lt: i32.ltU,
  ge: i32.geU,
};
const F64 = {
  add: f64.add,
  mul: f64.mul,
  sub: bin(0xa1),
  div: bin(0xa3),
  neg: un(0x9a),
  gt: bin(0x64),
  fromU32: un(0xb8),
  fromF32: f32.promote,
};
const f32FromBits = un(0xbe);
const f32ne = bin(0x5c);
const bitsOfF32 = un(0xbc);
const loadI32 = (addr: Code, offset = 0): Code => [...addr, 0x28, ...memarg(2, offset)];
const storeI32 = (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x36, ...memarg(2, offset)];
const loadU16 = (addr: Code): Code => [...addr, 0x2f, ...memarg(1, 0)];
const storeI16 = (addr: Code, v: Code): Code => [...addr, ...v, 0x3b, ...memarg(1, 0)];
/** Copy one 8-byte entry (i64.load, i64.store). */
const move64 = (dst: Code, src: Code): Code => [...dst, ...src, 0x29, ...memarg(3, 0), 0x37, ...memarg(3, 0)];
/** `cond ? a : b` (both evaluated). */
const select = (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b];
/** `while (cond) body` */
const whileLoop = (cond: Code, ...body: Code[]): Code => [0x02, 0x40, 0x03, 0x40, ...cond, 0x45, 0x0d, 1, ...body.flat(), 0x0c, 0, 0x0b, 0x0b];
const inc = (l: number, by: number | Code = 1): Code => set(l, i32.add(get(l), typeof by === 'number' ? i32c(by) : by));
/** base + 4·i, base + 8·i */
const at4 = (base: Code, i: Code): Code => i32.add(base, i32.shl(i, i32c(2)));
const at8 = (base: Code, i: Code): Code => i32.add(base, i32.shl(i, i32c(3)));

// ---- SIMD (128-bit) instructions emit.ts does not provide (its own: f32x4, f64x2, v128) ----
const X = {
  load: (addr: Code): Code => [...addr, ...simd(0x00), ...memarg(0, 0)],
  /** four u16 → i32x4 */
  load16x4u: (addr: Code): Code => [...addr, ...simd(0x04), ...memarg(0, 0)],
  store: (addr: Code, v: Code): Code => [...addr, ...v, ...simd(0x0b), ...memarg(0, 0)],
  store64Lane: (addr: Code, v: Code, lane: number): Code => [...addr, ...v, ...simd(0x5b), ...memarg(0, 0), lane],
  store32Lane: (addr: Code, v: Code, lane: number): Code => [...addr, ...v, ...simd(0x5a), ...memarg(0, 0), lane],
  shuffle32: v128.shuffle32,
  splat: vun(0x11),
  lane: (a: Code, k: number): Code => [...a, ...simd(0x1b), k],
  eq: vbin(0x37),
  ne: vbin(0x38),
  ltU: vbin(0x3a),
  geU: vbin(0x40),
  and: v128.and,
  or: vbin(0x50),
  bitselect: (a: Code, b: Code, m: Code): Code => [...a, ...b, ...m, ...simd(0x52)],
  bitmask: vun(0xa4),
  add: vbin(0xae),
  sub: vbin(0xb1),
  minU: vbin(0xb7),
  maxU: vbin(0xb9),
  fsub: f32x4.sub,
  fsplat: f32x4.splat,
  promoteLow: f32x4.promoteLow,
  demoteZero: f32x4.demoteZero,
  dadd: f64x2.add,
  dsub: vbin(0xf1),
  dmul: f64x2.mul,
  dsplat: f64x2.splat,
  zero: v128.zero,
};
/** f32 lanes 2, 3 moved to lanes 0, 1 */
const high = v128.highToLow;

/** Bits of 1.0f. */
const ONE = 0x3f800000;
/** Entries sorted by insertion (no digit passes) up to this many. */
export const INSERTION_MAX = 24;
/** Bits of the least-significant-digit passes inside a bucket, at most. */
const BUCKET_DIGIT_BITS = 11;
/** Bits of the first (most significant) digit, at most; the histogram has 2^MSD_BITS slots. */
export const MSD_BITS = 12;
/** Histogram slots lz_sortwalk needs. */
export const HIST_SLOTS = (1 << MSD_BITS) + 4 * (1 << BUCKET_DIGIT_BITS);

function compact(): Func {
  const f = new Func('lz_compact', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [probs, labels, j0, j1, C, ignore, pT, V, lab, vIndex, v0, out] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const j = f.local('i32');
  const v = f.local('i32');
  const y = f.local('i32');
  const c = f.local('i32');
  const src = f.local('i32');
  const dst = f.local('i32');
  const strideV = f.local('i32');
  const nan = f.local('i32');
  const p0 = f.local('f32');
  f.emit(
    set(v, get(v0)),
    set(strideV, i32.shl(get(V), i32c(2))),
    set(nan, i32c(0)),
    set(src, at4(get(probs), i32.mul(get(j0), get(C)))),
    forLoop(j, get(j0), get(j1), 1, [
      set(y, loadI32(at4(get(labels), get(j)))),
      ifThen(
        i32.ne(get(y), get(ignore)),
        storeI16(i32.add(get(lab), i32.shl(get(v), i32c(1))), get(y)),
        ifThen(get(vIndex), storeI32(at4(get(vIndex), get(v)), get(j))),
        set(p0, loadF32(get(src))),
        ifThen(f32ne(get(p0), get(p0)), set(nan, i32c(1))),
        set(dst, at4(get(pT), get(v))),
        forLoop(c, i32c(0), get(C), 1, [storeF32(get(dst), loadF32(at4(get(src), get(c)))), inc(dst, get(strideV))]),
        inc(v),
      ),
      inc(src, i32.shl(get(C), i32c(2))),
    ]),
    storeI32(get(out), get(v)),
    storeI32(get(out), u32.or(loadI32(get(out), 4), get(nan)), 4),
  );
  return f;
}

function count(): Func {
  const f = new Func('lz_count', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [lab, pT, V, s, e, counts, maxFgP] = [0, 1, 2, 3, 4, 5, 6];
  const v = f.local('i32');
  const y = f.local('i32');
  const p = f.local('f64');
  const slot = f.local('i32');
  f.emit(
    forLoop(v, get(s), get(e), 1, [
      set(y, loadU16(i32.add(get(lab), i32.shl(get(v), i32c(1))))),
      set(slot, at8(get(counts), get(y))),
      storeF64(get(slot), F64.add(loadF64(get(slot)), f64c(1))),
      set(p, F64.fromF32(loadF32(at4(get(pT), i32.add(i32.mul(get(y), get(V)), get(v)))))),
      set(slot, at8(get(maxFgP), get(y))),
      ifThen(F64.gt(get(p), loadF64(get(slot))), storeF64(get(slot), get(p))),
    ]),
  );
  return f;
}

function build(): Func {
  const f = new Func('lz_build', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [c, minFg, s, e, V, lab, pT, A, out, dP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const v = f.local('i32');
  const bits = f.local('i32');
  const key = f.local('i32');
  const fg = f.local('i32');
  const keep = f.local('i32');
  const min = f.local('i32');
  const max = f.local('i32');
  const p = f.local('i32'); // address of p_c(v)
  const l = f.local('i32'); // address of lab[v]
  const w = f.local('i32'); // address of the next entry
  const z = f.local('i32'); // dP - pT: dP_c(v) is at p + z
  // Branch-free: every pixel's entry is written at w, and w advances only when it is kept.
  f.emit(
    set(min, i32c(-1)),
    set(max, i32c(0)),
    set(w, get(A)),
    set(p, at4(get(pT), i32.add(i32.mul(get(c), get(V)), get(s)))),
    set(z, i32.sub(get(dP), get(pT))),
    set(l, i32.add(get(lab), i32.shl(get(s), i32c(1)))),
    forLoop(v, get(s), get(e), 1, buildPixel({ c, minFg, v, p, l, w, z, bits, fg, key, keep, min, max })),
    ...buildResult(out, w, A, min, max),
  );
  return f;
}

/** The locals (indices) of one scalar step of lz_build. */
interface BuildLocals {
  c: number;
  minFg: number;
  v: number;
  p: number;
  l: number;
  w: number;
  z: number;
  bits: number;
  fg: number;
  key: number;
  keep: number;
  min: number;
  max: number;
}

/**
 * One pixel of lz_build, scalar (lz_build's loop and lz_build_simd's tail): its entry (tag, key)
 * written at w, w advanced only when it is kept, min/max of the kept keys, dP_c(v) cleared, then on
 * to the next pixel.
 */
function buildPixel(r: BuildLocals): Code[] {
  const { c, minFg, v, p, l, w, z, bits, fg, key, keep, min, max } = r;
  return [
    set(bits, loadI32(get(p))),
    set(fg, i32.eq(loadU16(get(l)), get(c))),
    // foreground: err = 1 − p (float32), kept when p < 1; background: err = p, kept when p ≠ 0
    // and not below every foreground error
    set(key, i32.sub(i32c(0x7fffffff), select(bitsOfF32(f32.sub(f32c(1), f32FromBits(get(bits)))), get(bits), get(fg)))),
    set(keep, select(u32.lt(get(bits), i32c(ONE)), i32.and(i32.ne(get(bits), i32c(0)), u32.ge(get(bits), get(minFg))), get(fg))),
    storeI32(get(w), u32.or(get(v), i32.shl(get(fg), i32c(31)))),
    storeI32(get(w), get(key), 4),
    set(min, select(get(key), get(min), i32.and(get(keep), u32.lt(get(key), get(min))))),
    set(max, select(get(key), get(max), i32.and(get(keep), u32.gt(get(key), get(max))))),
    set(w, i32.add(get(w), i32.shl(get(keep), i32c(3)))),
    storeI32(i32.add(get(p), get(z)), i32c(0)), // dP_c(v) = 0 (the walk sets the candidates')
    inc(p, 4),
    inc(l, 2),
  ];
}

/** lz_build's results at `out`: the number of entries written from A, the min and max key. */
function buildResult(out: number, w: number, A: number, min: number, max: number): Code[] {
  return [
    storeI32(get(out), u32.shr(i32.sub(get(w), get(A)), i32c(3))),
    storeI32(get(out), get(min), 4),
    storeI32(get(out), get(max), 8),
  ];
}

/**
 * lz_build with 128-bit SIMD: four pixels per step (keys, tags and the keep mask computed as
 * vectors, each entry stored as one 64-bit lane and kept by advancing the write address), the
 * scalar loop for the rest. Same entries, same order as lz_build.
 */
function buildSimd(): Func {
  const f = new Func('lz_build_simd', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [c, minFg, s, e, V, lab, pT, A, out, dP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const v = f.local('i32');
  const e4 = f.local('i32');
  const p = f.local('i32');
  const l = f.local('i32');
  const w = f.local('i32');
  const z = f.local('i32');
  const m = f.local('i32');
  const bits = f.local('v128');
  const fg = f.local('v128');
  const key = f.local('v128');
  const keep = f.local('v128');
  const ent = f.local('v128');
  const vv = f.local('v128');
  const kmin = f.local('v128');
  const kmax = f.local('v128');
  const cV = f.local('v128');
  const oneV = f.local('v128');
  const oneF = f.local('v128');
  const minFgV = f.local('v128');
  const topV = f.local('v128');
  const ones = f.local('v128');
  const four = f.local('v128');
  const zero = f.local('v128');
  const min = f.local('i32');
  const max = f.local('i32');
  const bitsS = f.local('i32');
  const keyS = f.local('i32');
  const fgS = f.local('i32');
  const keepS = f.local('i32');
  const lane = (k: number): Code[] => [
    X.store64Lane(get(w), get(ent), k & 1),
    set(w, i32.add(get(w), i32.shl(i32.and(u32.shr(get(m), i32c(k)), i32c(1)), i32c(3)))),
  ];
  f.emit(
    set(w, get(A)),
    set(p, at4(get(pT), i32.add(i32.mul(get(c), get(V)), get(s)))),
    set(z, i32.sub(get(dP), get(pT))),
    set(l, i32.add(get(lab), i32.shl(get(s), i32c(1)))),
    set(cV, X.splat(get(c))),
    set(oneV, X.splat(i32c(ONE))),
    set(oneF, X.fsplat(f32c(1))),
    set(minFgV, X.splat(get(minFg))),
    set(topV, X.splat(i32c(0x7fffffff))),
    set(ones, X.splat(i32c(-1))),
    set(four, X.splat(i32c(4))),
    set(zero, X.zero()),
    set(kmin, get(ones)),
    set(kmax, get(zero)),
    // vv = (s, s+1, s+2, s+3)
    set(vv, X.add(X.splat(get(s)), [...simd(0x0c), ...[0, 1, 2, 3].flatMap((k) => [k, 0, 0, 0])])),
    set(e4, i32.sub(get(e), i32.and(i32.sub(get(e), get(s)), i32c(3)))),
    forLoop(v, get(s), get(e4), 4, [
      set(bits, X.load(get(p))),
      set(fg, X.eq(X.load16x4u(get(l)), get(cV))),
      set(key, X.sub(get(topV), X.bitselect(X.fsub(get(oneF), get(bits)), get(bits), get(fg)))),
      set(keep, X.bitselect(X.ltU(get(bits), get(oneV)), X.and(X.ne(get(bits), get(zero)), X.geU(get(bits), get(minFgV))), get(fg))),
      set(m, X.bitmask(get(keep))),
      // tags: the pixel index, bit 31 set for foreground
      set(ent, X.or(get(vv), X.and(get(fg), X.splat(i32c(-0x80000000))))),
      set(kmin, X.minU(get(kmin), X.bitselect(get(key), get(ones), get(keep)))),
      set(kmax, X.maxU(get(kmax), X.and(get(key), get(keep)))),
      // entries (tag, key) of pixels 0, 1 then 2, 3
      set(fg, X.shuffle32(get(ent), get(key), [2, 6, 3, 7])),
      set(ent, X.shuffle32(get(ent), get(key), [0, 4, 1, 5])),
      ...lane(0),
      ...lane(1),
      set(ent, get(fg)),
      ...lane(2),
      ...lane(3),
      X.store(i32.add(get(p), get(z)), get(zero)),
      set(vv, X.add(get(vv), get(four))),
      inc(p, 16),
      inc(l, 8),
    ]),
    set(min, X.lane(get(kmin), 0)),
    set(max, X.lane(get(kmax), 0)),
    ...[1, 2, 3].flatMap((k) => [
      set(keyS, X.lane(get(kmin), k)),
      set(min, select(get(keyS), get(min), u32.lt(get(keyS), get(min)))),
      set(keyS, X.lane(get(kmax), k)),
      set(max, select(get(keyS), get(max), u32.gt(get(keyS), get(max)))),
    ]),
    forLoop(v, get(e4), get(e), 1, buildPixel({ c, minFg, v, p, l, w, z, bits: bitsS, fg: fgS, key: keyS, keep: keepS, min, max })),
    ...buildResult(out, w, A, min, max),
  );
  return f;
}

function sortwalk(): Func {
  const f = new Func('lz_sortwalk', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f64', 'i32', 'f64', 'i32', 'i32']);
  const [A, B, n, min, max, hist, G, dPc, scale, out, walk] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const i = f.local('i32');
  const d = f.local('i32');
  const q = f.local('i32');
  const sig = f.local('i32');
  const D = f.local('i32');
  const shift = f.local('i32');
  const R = f.local('i32');
  const sum = f.local('i32');
  const b0 = f.local('i32');
  const b1 = f.local('i32');
  const m = f.local('i32');
  const src = f.local('i32'); // where the sorted bucket is
  const tmp = f.local('i32');
  const x = f.local('i32');
  const y = f.local('i32');
  const pass = f.local('i32');
  const passes = f.local('i32');
  const bits = f.local('i32');
  const mask = f.local('i32');
  const sh = f.local('i32');
  const h = f.local('i32');
  const trivial = f.local('i32');
  const cnt = f.local('i32');
  const kt = f.local('i32'); // insertion sort: the entry held (tagged index, key)
  const kk = f.local('i32');
  const jj = f.local('i32');
  const nlog = f.local('i32');
  const R2 = f.local('i32'); // radix of the in-bucket passes
  const mb = f.local('i32'); // their most bits
  // walk state
  const tagged = f.local('i32');
  const v = f.local('i32');
  const err = f.local('f64');
  const cum = f.local('f64');
  const k1 = f.local('f64');
  const jac = f.local('f64');
  const prevJ = f.local('f64');
  const g = f.local('f64');
  const loss = f.local('f64');

  const keyAt = (base: Code, idx: Code): Code => loadI32(at8(base, idx), 4);

  /** Walk `count` sorted entries at `base`: Alg. 1, exactly as lovasz_softmax_loss.ts's loop. */
  const walkCode = (base: number, count: number): Code =>
    ifThen(
      get(walk),
      forLoop(i, i32c(0), get(count), 1, [
        set(tagged, loadI32(at8(get(base), get(i)))),
        set(v, i32.and(get(tagged), i32c(0x7fffffff))),
        set(err, F64.fromF32(f32FromBits(i32.sub(i32c(0x7fffffff), keyAt(get(base), get(i)))))),
        set(cum, F64.add(get(cum), F64.fromU32(u32.shr(get(tagged), i32c(31))))), // + 1 for foreground (branch-free)
        set(k1, F64.add(get(k1), f64c(1))),
        // jac = 1 − (G − cum)/(G + (k + 1 − cum))
        set(jac, F64.sub(f64c(1), F64.div(F64.sub(get(G), get(cum)), F64.add(get(G), F64.sub(get(k1), get(cum)))))),
        set(g, F64.sub(get(jac), get(prevJ))),
        set(prevJ, get(jac)),
        set(loss, F64.add(get(loss), F64.mul(get(err), get(g)))),
        storeF32(at4(get(dPc), get(v)), f64.demote(select(F64.mul(F64.neg(get(g)), get(scale)), F64.mul(get(g), get(scale)), i32.ne(get(tagged), get(v))))),
      ]),
    );

  /** Stable insertion sort of `count` entries at `base` by key. */
  const insertion = (base: number, count: number): Code =>
    forLoop(x, i32c(1), get(count), 1, [
      set(kt, loadI32(at8(get(base), get(x)))),
      set(kk, keyAt(get(base), get(x))),
      set(jj, get(x)),
      whileLoop(
        // while (jj > 0 && key[jj − 1] > kk)
        blockValue(i32.gtS(get(jj), i32c(0)), u32.gt(keyAt(get(base), i32.sub(get(jj), i32c(1))), get(kk))),
        move64(at8(get(base), get(jj)), at8(get(base), i32.sub(get(jj), i32c(1)))),
        set(jj, i32.sub(get(jj), i32c(1))),
      ),
      storeI32(at8(get(base), get(jj)), get(kt)),
      storeI32(at8(get(base), get(jj)), get(kk), 4),
    ]);

  /**
   * Least-significant-digit passes over `count` entries at `from` (temporary space at `to`), on
   * the low `rbits` bits of key − min; leaves the address of the sorted entries in `src`.
   */
  const lsd = (from: number, to: number, count: number, rbits: number): Code => [
    // digits of at most log2(count) bits (4 to BUCKET_DIGIT_BITS): a histogram no larger than the bucket
    ...set(mb, i32.sub(i32c(31), u32.clz(get(count)))),
    ...ifThen(i32.gtS(get(mb), i32c(BUCKET_DIGIT_BITS)), set(mb, i32c(BUCKET_DIGIT_BITS))),
    ...ifThen(i32.ltS(get(mb), i32c(4)), set(mb, i32c(4))),
    ...set(passes, i32.divS(i32.add(get(rbits), i32.sub(get(mb), i32c(1))), get(mb))),
    ...set(bits, i32.divS(i32.add(get(rbits), i32.sub(get(passes), i32c(1))), get(passes))),
    ...set(R2, i32.shl(i32c(1), get(bits))),
    ...set(mask, i32.sub(get(R2), i32c(1))),
    ...set(src, get(from)),
    ...set(tmp, get(to)),
    // clear the pass histograms (they follow the MSD histogram)
    ...forLoop(x, i32c(0), i32.mul(get(passes), get(R2)), 1, [storeI32(at4(get(h), get(x)), i32c(0))]),
    ...ifElse(
      i32.eq(get(passes), i32c(2)),
      [
        forLoop(x, i32c(0), get(count), 1, [
          set(kk, i32.sub(keyAt(get(src), get(x)), get(min))),
          set(y, at4(get(h), i32.and(get(kk), get(mask)))),
          storeI32(get(y), i32.add(loadI32(get(y)), i32c(1))),
          set(y, at4(get(h), i32.add(get(R2), i32.and(u32.shr(get(kk), get(bits)), get(mask))))),
          storeI32(get(y), i32.add(loadI32(get(y)), i32c(1))),
        ]),
      ],
      [
        forLoop(x, i32c(0), get(count), 1, [
          set(kk, i32.sub(keyAt(get(src), get(x)), get(min))),
          forLoop(pass, i32c(0), get(passes), 1, [
            set(y, at4(get(h), i32.add(i32.mul(get(pass), get(R2)), i32.and(u32.shr(get(kk), i32.mul(get(pass), get(bits))), get(mask))))),
            storeI32(get(y), i32.add(loadI32(get(y)), i32c(1))),
          ]),
        ]),
      ],
    ),
    ...forLoop(pass, i32c(0), get(passes), 1, [
      set(y, at4(get(h), i32.mul(get(pass), get(R2)))),
      set(sh, i32.mul(get(pass), get(bits))),
      // a digit every entry shares (that of the first entry) needs no pass
      set(trivial, i32.eq(loadI32(at4(get(y), i32.and(u32.shr(i32.sub(keyAt(get(src), i32c(0)), get(min)), get(sh)), get(mask)))), get(count))),
      ifThen(
        i32.eqz(get(trivial)),
        set(sum, i32c(0)),
        forLoop(x, i32c(0), get(R2), 1, [
          set(q, at4(get(y), get(x))),
          set(cnt, loadI32(get(q))),
          storeI32(get(q), get(sum)),
          set(sum, i32.add(get(sum), get(cnt))),
        ]),
        forLoop(x, i32c(0), get(count), 1, [
          set(q, at4(get(y), i32.and(u32.shr(i32.sub(keyAt(get(src), get(x)), get(min)), get(sh)), get(mask)))),
          set(cnt, loadI32(get(q))),
          storeI32(get(q), i32.add(get(cnt), i32c(1))),
          move64(at8(get(tmp), get(cnt)), at8(get(src), get(x))),
        ]),
        // swap src and tmp
        set(cnt, get(src)),
        set(src, get(tmp)),
        set(tmp, get(cnt)),
      ),
    ]),
  ];

  f.emit(
    set(cum, f64c(0)),
    set(k1, f64c(0)),
    set(prevJ, f64c(0)),
    set(loss, f64c(0)),
    ifElse(
      u32.or(u32.le(get(n), i32c(INSERTION_MAX)), i32.eq(get(max), get(min))),
      [
        // few entries (or all keys equal): insertion sort in A, then walk A
        ifThen(u32.gt(get(max), get(min)), insertion(A, n)),
        walkCode(A, n),
        ifThen(i32.eqz(get(walk)), forLoop(i, i32c(0), get(n), 1, [move64(at8(get(B), get(i)), at8(get(A), get(i)))])),
      ],
      [
        set(sig, i32.sub(i32c(32), u32.clz(i32.sub(get(max), get(min))))),
        // MSD digit: about n/1024 buckets, at most 2^MSD_BITS, never more bits than the keys span
        set(nlog, i32.sub(i32c(31), u32.clz(get(n)))),
        set(D, i32.sub(get(nlog), i32c(10))),
        ifThen(i32.gtS(get(D), i32c(MSD_BITS)), set(D, i32c(MSD_BITS))),
        ifThen(i32.ltS(get(D), i32c(1)), set(D, i32c(1))),
        ifThen(i32.gtS(get(D), get(sig)), set(D, get(sig))),
        set(shift, i32.sub(get(sig), get(D))),
        set(R, i32.shl(i32c(1), get(D))),
        forLoop(d, i32c(0), get(R), 1, [storeI32(at4(get(hist), get(d)), i32c(0))]),
        forLoop(i, i32c(0), get(n), 1, [
          set(q, at4(get(hist), u32.shr(i32.sub(keyAt(get(A), get(i)), get(min)), get(shift)))),
          storeI32(get(q), i32.add(loadI32(get(q)), i32c(1))),
        ]),
        set(sum, i32c(0)),
        forLoop(d, i32c(0), get(R), 1, [
          set(q, at4(get(hist), get(d))),
          set(cnt, loadI32(get(q))),
          storeI32(get(q), get(sum)),
          set(sum, i32.add(get(sum), get(cnt))),
        ]),
        forLoop(i, i32c(0), get(n), 1, [
          set(q, at4(get(hist), u32.shr(i32.sub(keyAt(get(A), get(i)), get(min)), get(shift)))),
          set(cnt, loadI32(get(q))),
          storeI32(get(q), i32.add(get(cnt), i32c(1))),
          move64(at8(get(B), get(cnt)), at8(get(A), get(i))),
        ]),
        // each bucket [b0, b1) of B: sort on the low `shift` bits, walk
        set(h, at4(get(hist), get(R))),
        set(b0, i32c(0)),
        forLoop(d, i32c(0), get(R), 1, [
          set(b1, loadI32(at4(get(hist), get(d)))),
          set(m, i32.sub(get(b1), get(b0))),
          ifThen(
            i32.gtS(get(m), i32c(0)),
            set(src, at8(get(B), get(b0))),
            ifElse(
              u32.or(u32.le(get(m), i32c(INSERTION_MAX)), i32.eqz(get(shift))),
              [ifThen(get(shift), insertion(src, m))],
              [set(tmp, at8(get(A), get(b0))), lsd(src, tmp, m, shift)],
            ),
            walkCode(src, m),
            ifThen(
              i32.and(i32.eqz(get(walk)), i32.ne(get(src), at8(get(B), get(b0)))),
              forLoop(i, i32c(0), get(m), 1, [move64(at8(at8(get(B), get(b0)), get(i)), at8(get(src), get(i)))]),
            ),
          ),
          set(b0, get(b1)),
        ]),
      ],
    ),
    storeF64(get(out), get(loss)),
  );
  return f;
}

/** `a && b` as an i32 value (b evaluated only when a holds). */
function blockValue(a: Code, b: Code): Code {
  // if (a) { b } else { 0 } with an i32 result
  return [...a, 0x04, 0x7f, ...b, 0x05, ...i32c(0), 0x0b];
}

/** Pixels per block of lz_backward. */
export const BACKWARD_BLOCK = 64;

function backward(): Func {
  const f = new Func('lz_backward', new Array<'i32'>(11).fill('i32'));
  const [pT, dP, vIndex, C, V, dz, P, dot, vBegin, vEnd, jBegin] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const v0 = f.local('i32');
  const nb = f.local('i32');
  const t = f.local('i32');
  const c = f.local('i32');
  const off = f.local('i32');
  const strideV = f.local('i32');
  const o = f.local('i32');
  const j = f.local('i32');
  const jNext = f.local('i32');
  const d = f.local('f64');
  /** dz rows [jNext, upTo) = 0 (ignored pixels) */
  const zeroRows = (upTo: Code): Code =>
    whileLoop(i32.ltS(get(jNext), upTo), set(o, at4(get(dz), i32.mul(get(jNext), get(C)))), forLoop(c, i32c(0), get(C), 1, [storeF32(at4(get(o), get(c)), f32c(0))]), inc(jNext));
  f.emit(
    set(strideV, i32.shl(get(V), i32c(2))),
    set(jNext, get(jBegin)),
    forLoop(v0, get(vBegin), get(vEnd), BACKWARD_BLOCK, [
      set(nb, i32.sub(get(vEnd), get(v0))),
      ifThen(i32.gtS(get(nb), i32c(BACKWARD_BLOCK)), set(nb, i32c(BACKWARD_BLOCK))),
      // dot[t] = Σ_c dP_c·p_c over the block's pixels, class by class (rows read in order)
      forLoop(t, i32c(0), get(nb), 1, [storeF64(at8(get(dot), get(t)), f64c(0))]),
      set(off, i32.shl(get(v0), i32c(2))),
      forLoop(c, i32c(0), get(C), 1, [
        forLoop(t, i32c(0), get(nb), 1, [
          set(o, i32.add(get(off), i32.shl(get(t), i32c(2)))),
          storeF64(
            at8(get(dot), get(t)),
            F64.add(loadF64(at8(get(dot), get(t))), F64.mul(F64.fromF32(loadF32(i32.add(get(dP), get(o)))), F64.fromF32(loadF32(i32.add(get(pT), get(o)))))),
          ),
        ]),
        inc(off, get(strideV)),
      ]),
      // dz rows of the block, NHWC
      forLoop(t, i32c(0), get(nb), 1, [
        set(j, i32.add(get(v0), get(t))),
        ifThen(get(vIndex), set(j, loadI32(at4(get(vIndex), get(j)))), zeroRows(get(j))),
        set(jNext, i32.add(get(j), i32c(1))),
        set(o, at4(get(dz), i32.mul(get(j), get(C)))),
        set(d, loadF64(at8(get(dot), get(t)))),
        set(off, i32.shl(i32.add(get(v0), get(t)), i32c(2))),
        forLoop(c, i32c(0), get(C), 1, [
          storeF32(get(o), f64.demote(F64.mul(F64.fromF32(loadF32(i32.add(get(pT), get(off)))), F64.sub(F64.fromF32(loadF32(i32.add(get(dP), get(off)))), get(d))))),
          inc(o, 4),
          inc(off, get(strideV)),
        ]),
      ]),
    ]),
    zeroRows(get(P)),
  );
  return f;
}

/**
 * lz_backward with 128-bit SIMD: the dot products four pixels at a time (f64x2 lanes, classes in
 * the same order), the output four pixels at a time (one 32-bit lane store per pixel row), the
 * scalar loops for the rest of a block. Same values as lz_backward.
 */
function backwardSimd(): Func {
  const f = new Func('lz_backward_simd', new Array<'i32'>(11).fill('i32'));
  const [pT, dP, vIndex, C, V, dz, P, dot, vBegin, vEnd, jBegin] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const v0 = f.local('i32');
  const nb = f.local('i32');
  const nb4 = f.local('i32');
  const t = f.local('i32');
  const c = f.local('i32');
  const off = f.local('i32');
  const a = f.local('i32');
  const strideV = f.local('i32');
  const o = f.local('i32');
  const j = f.local('i32');
  const jNext = f.local('i32');
  const rows = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')] as const;
  const d = f.local('f64');
  const dv = f.local('v128');
  const pv = f.local('v128');
  const dlo = f.local('v128');
  const dhi = f.local('v128');
  const rlo = f.local('v128');
  const zeroRows = (upTo: Code): Code =>
    whileLoop(i32.ltS(get(jNext), upTo), set(o, at4(get(dz), i32.mul(get(jNext), get(C)))), forLoop(c, i32c(0), get(C), 1, [storeF32(at4(get(o), get(c)), f32c(0))]), inc(jNext));
  /** the dz row of pixel v0 + t + k (zeroing the ignored rows before it) into `row` */
  const rowOf = (k: number, row: number): Code[] => [
    set(j, i32.add(i32.add(get(v0), get(t)), i32c(k))),
    ifThen(get(vIndex), set(j, loadI32(at4(get(vIndex), get(j)))), zeroRows(get(j))),
    set(jNext, i32.add(get(j), i32c(1))),
    set(row, at4(get(dz), i32.mul(get(j), get(C)))),
  ];
  f.emit(
    set(strideV, i32.shl(get(V), i32c(2))),
    set(jNext, get(jBegin)),
    forLoop(v0, get(vBegin), get(vEnd), BACKWARD_BLOCK, [
      set(nb, i32.sub(get(vEnd), get(v0))),
      ifThen(i32.gtS(get(nb), i32c(BACKWARD_BLOCK)), set(nb, i32c(BACKWARD_BLOCK))),
      set(nb4, i32.and(get(nb), i32c(~3))),
      forLoop(t, i32c(0), get(nb), 1, [storeF64(at8(get(dot), get(t)), f64c(0))]),
      set(off, i32.shl(get(v0), i32c(2))),
      forLoop(c, i32c(0), get(C), 1, [
        forLoop(t, i32c(0), get(nb4), 4, [
          set(a, i32.add(get(off), i32.shl(get(t), i32c(2)))),
          set(dv, X.load(i32.add(get(dP), get(a)))),
          set(pv, X.load(i32.add(get(pT), get(a)))),
          set(a, at8(get(dot), get(t))),
          X.store(get(a), X.dadd(X.load(get(a)), X.dmul(X.promoteLow(get(dv)), X.promoteLow(get(pv))))),
          X.store(i32.add(get(a), i32c(16)), X.dadd(X.load(i32.add(get(a), i32c(16))), X.dmul(X.promoteLow(high(get(dv))), X.promoteLow(high(get(pv)))))),
        ]),
        forLoop(t, get(nb4), get(nb), 1, [
          set(a, i32.add(get(off), i32.shl(get(t), i32c(2)))),
          storeF64(
            at8(get(dot), get(t)),
            F64.add(loadF64(at8(get(dot), get(t))), F64.mul(F64.fromF32(loadF32(i32.add(get(dP), get(a)))), F64.fromF32(loadF32(i32.add(get(pT), get(a)))))),
          ),
        ]),
        inc(off, get(strideV)),
      ]),
      forLoop(t, i32c(0), get(nb4), 4, [
        ...rows.flatMap((row, k) => rowOf(k, row)),
        set(dlo, X.load(at8(get(dot), get(t)))),
        set(dhi, X.load(i32.add(at8(get(dot), get(t)), i32c(16)))),
        set(off, i32.shl(i32.add(get(v0), get(t)), i32c(2))),
        forLoop(c, i32c(0), get(C), 1, [
          set(dv, X.load(i32.add(get(dP), get(off)))),
          set(pv, X.load(i32.add(get(pT), get(off)))),
          set(rlo, X.demoteZero(X.dmul(X.promoteLow(get(pv)), X.dsub(X.promoteLow(get(dv)), get(dlo))))),
          set(dv, X.demoteZero(X.dmul(X.promoteLow(high(get(pv))), X.dsub(X.promoteLow(high(get(dv))), get(dhi))))),
          set(rlo, X.shuffle32(get(rlo), get(dv), [0, 1, 4, 5])),
          ...rows.flatMap((row, k) => [X.store32Lane(get(row), get(rlo), k), inc(row, 4)]),
          inc(off, get(strideV)),
        ]),
      ]),
      forLoop(t, get(nb4), get(nb), 1, [
        set(j, i32.add(get(v0), get(t))),
        ifThen(get(vIndex), set(j, loadI32(at4(get(vIndex), get(j)))), zeroRows(get(j))),
        set(jNext, i32.add(get(j), i32c(1))),
        set(o, at4(get(dz), i32.mul(get(j), get(C)))),
        set(d, loadF64(at8(get(dot), get(t)))),
        set(off, i32.shl(i32.add(get(v0), get(t)), i32c(2))),
        forLoop(c, i32c(0), get(C), 1, [
          storeF32(get(o), f64.demote(F64.mul(F64.fromF32(loadF32(i32.add(get(pT), get(off)))), F64.sub(F64.fromF32(loadF32(i32.add(get(dP), get(off)))), get(d))))),
          inc(o, 4),
          inc(off, get(strideV)),
        ]),
      ]),
    ]),
    zeroRows(get(P)),
  );
  return f;
}

/**
 * The module's bytes: importing a shared memory when `shared` (the threaded build), and with the
 * SIMD variants lz_build_simd and lz_backward_simd when `simd`.
 */
export function lovaszModuleBytes(shared = false, simd = true): Uint8Array {
  const fns = [compact(), count(), build(), sortwalk(), backward()];
  if (simd) fns.push(buildSimd(), backwardSimd());
  return buildModule(fns, shared);
}
type I = number;
/** The exports of the module. */
export interface LovaszExports {
  lz_compact(probs: I, labels: I, j0: I, j1: I, C: I, ignore: I, pT: I, V: I, lab: I, vIndex: I, v0: I, out: I): void;
  lz_count(lab: I, pT: I, V: I, s: I, e: I, counts: I, maxFgP: I): void;
  lz_build(c: I, minFgErrBits: I, s: I, e: I, V: I, lab: I, pT: I, A: I, out: I, dP: I): void;
  lz_sortwalk(A: I, B: I, n: I, min: I, max: I, hist: I, G: number, dPc: I, scale: number, out: I, walk: I): void;
  lz_backward(pT: I, dP: I, vIndex: I, C: I, V: I, dz: I, P: I, dot: I, v0: I, v1: I, j0: I): void;
  /** SIMD variants (when instantiated with simd) */
  lz_build_simd?: LovaszExports['lz_build'];
  lz_backward_simd?: LovaszExports['lz_backward'];
}

interface WasmJsApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;
const compiled = new Map<string, object>();

/**
 * Instantiate the module on `memory` (tfjs-backend-wasm's WebAssembly.Memory), with the SIMD
 * variants when `simd`: its exports and the compiled module (which a worker can instantiate on the
 * same shared memory); undefined where that fails (e.g. a runtime without wasm SIMD).
 */
export function instantiateLovasz(memory: unknown, simd: boolean): { exports: LovaszExports; module: object } | undefined {
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && (memory as { buffer: unknown }).buffer instanceof SharedArrayBuffer;
    const key = `${shared}/${simd}`;
    let mod = compiled.get(key);
    if (!mod) {
      mod = new WA.Module(lovaszModuleBytes(shared, simd));
      compiled.set(key, mod);
    }
    return { exports: new WA.Instance(mod, { env: { memory } }).exports as LovaszExports, module: mod };
  } catch {
    // An engine without wasm SIMD (or shared memory): the caller runs the plain path.
    return undefined;
  }
}
