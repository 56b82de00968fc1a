/**
 * seg's SIMD kernels (128-bit WebAssembly SIMD), generated with emit.ts and instantiated on
 * tfjs-backend-wasm's own memory, so that they read and write tensors in place on the wasm heap
 * (pointers = Host.ptr()). Channels are innermost (NHWC) and processed four at a time, with a
 * scalar loop for the C mod 4 rest.
 *
 * Exports (all arguments i32: byte addresses and counts):
 *   colsum(x, rows, C, acc32, out64)                out64[c] += Σ_r x[r, c]
 *   colsumsq(x, rows, C, mu, acc32, out64)          out64[c] += Σ_r (x[r, c] − mu[c])²
 *   bnapply_<act>(x, y, a, b, rows, C)              y = act(x·a + b)
 *   bnbwdsum_<act>(dy, x, a, b, mu, rows, C, acc1, acc2, out1, out2)
 *        with d = dy·act′(x·a + b): out1[c] += Σ d,  out2[c] += Σ d·(x − mu)
 *   bnbwdapply_<act>(dy, x, a, b, mu, k1, k0, dx, rows, C)
 *        dx = a·d + k1·(x − mu) + k0
 *   dwfilter(x, dy, rowacc32, out64, geometry…)     depthwise filter gradient (multiplier 1)
 *   dwinput(dx, dy, w, 0, geometry…)                depthwise input gradient (multiplier 1, any stride)
 *   transpose2d(src, dst, R, C)                     [R, C] → [C, R]
 *   gemmtn(…)                                       out += Aᵀ·B (filter gradients)
 *   gemmpack(B, Bp, K, N, rs, cs), gemmnn(…)        C = act(bias + A·B), B packed once (pointwise convolutions)
 *   opt_adam(…), opt_sgd(…)                         one optimiser update (optimizerStep below)
 * Sums run in float32 over blocks of BLOCK rows and are folded into float64 accumulators.
 */
import {
  type Code,
  Func,
  buildModule,
  f32,
  f32c,
  f32x4,
  f64,
  f64c,
  f64x2,
  forLoop,
  get,
  i32,
  i32c,
  ifElse,
  ifThen,
  load128,
  load32Splat,
  loadI32,
  loadF32,
  loadF64,
  set,
  store128,
  storeF32,
  storeF64,
  v128,
} from './emit.js';

/** Rows summed in float32 before folding into the float64 accumulators. */
export const BLOCK = 128;

export type SimdAct = 'none' | 'relu' | 'relu6';
export const SIMD_ACTS: readonly SimdAct[] = ['none', 'relu', 'relu6'];

const idx4 = (base: Code, i: Code): Code => i32.add(base, i32.shl(i, i32c(2))); // base + 4·i
const idx8 = (base: Code, i: Code): Code => i32.add(base, i32.shl(i, i32c(3))); // base + 8·i
/** The smaller of two signed i32 (select(x, y, x < y); both evaluated twice: locals or constants). */
const minS = (x: Code, y: Code): Code => [...x, ...y, ...x, ...y, ...i32.ltS([], []), 0x1b];

/** acc32[0..C) → out64 (+=), then acc32 = 0. */
function fold(f: Func, acc32: number, out64: number, C: number): Code {
  const c = f.local('i32');
  const v = f.local('v128');
  const zero = f.local('v128');
  const C4 = f.local('i32');
  return [
    ...set(zero, v128.zero()),
    ...set(C4, i32.and(get(C), i32c(~3))),
    ...forLoop(c, i32c(0), get(C4), 4, [
      set(v, load128(idx4(get(acc32), get(c)))),
      store128(idx8(get(out64), get(c)), f64x2.add(load128(idx8(get(out64), get(c))), f32x4.promoteLow(get(v)))),
      store128(idx8(get(out64), get(c)), f64x2.add(load128(idx8(get(out64), get(c)), 16), f32x4.promoteLow(v128.highToLow(get(v)))), 16),
      store128(idx4(get(acc32), get(c)), get(zero)),
    ]),
    ...forLoop(c, get(C4), get(C), 1, [
      storeF64(idx8(get(out64), get(c)), f64.add(loadF64(idx8(get(out64), get(c))), f32.promote(loadF32(idx4(get(acc32), get(c)))))),
      storeF32(idx4(get(acc32), get(c)), f32c(0)),
    ]),
  ];
}

/**
 * A loop over `rows` rows of C channels: per row, `vec(c)` for channel groups of four and
 * `scalar(c)` for the rest; `row` and `rowPtr(p)` give the row index and the byte offset of the
 * row (row·C·4). `everyBlock` runs after each BLOCK rows and at the end.
 */
function rowLoop(
  f: Func,
  rows: number,
  C: number,
  body: { vec: (c: number, off: number) => Code[]; scalar: (c: number, off: number) => Code[]; everyBlock?: Code[] },
): Code {
  const r = f.local('i32');
  const c = f.local('i32');
  const off = f.local('i32'); // byte offset of element (r, c)
  const rowOff = f.local('i32');
  const C4 = f.local('i32');
  const blk = f.local('i32');
  const inner: Code[] = [
    set(rowOff, i32.mul(get(r), i32.shl(get(C), i32c(2)))),
    forLoop(c, i32c(0), get(C4), 4, [set(off, i32.add(get(rowOff), i32.shl(get(c), i32c(2)))), ...body.vec(c, off)]),
    forLoop(c, get(C4), get(C), 1, [set(off, i32.add(get(rowOff), i32.shl(get(c), i32c(2)))), ...body.scalar(c, off)]),
  ];
  if (body.everyBlock) {
    inner.push(set(blk, i32.add(get(blk), i32c(1))), ifThen(i32.eq(get(blk), i32c(BLOCK)), set(blk, i32c(0)), ...body.everyBlock));
  }
  return [
    ...set(C4, i32.and(get(C), i32c(~3))),
    ...set(blk, i32c(0)),
    ...forLoop(r, i32c(0), get(rows), 1, inner),
    ...(body.everyBlock ? body.everyBlock.flat() : []),
  ];
}

function colsum(): Func {
  const f = new Func('colsum', ['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, C, acc, out] = [0, 1, 2, 3, 4];
  const foldCode = fold(f, acc, out, C);
  f.emit(
    rowLoop(f, rows, C, {
      vec: (c, off) => [store128(idx4(get(acc), get(c)), f32x4.add(load128(idx4(get(acc), get(c))), load128(i32.add(get(x), get(off)))))],
      scalar: (c, off) => [storeF32(idx4(get(acc), get(c)), f32.add(loadF32(idx4(get(acc), get(c))), loadF32(i32.add(get(x), get(off)))))],
      everyBlock: [foldCode],
    }),
  );
  return f;
}

function colsumsq(): Func {
  const f = new Func('colsumsq', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, C, mu, acc, out] = [0, 1, 2, 3, 4, 5];
  const d = f.local('v128');
  const ds = f.local('f32');
  const foldCode = fold(f, acc, out, C);
  f.emit(
    rowLoop(f, rows, C, {
      vec: (c, off) => [
        set(d, f32x4.sub(load128(i32.add(get(x), get(off))), load128(idx4(get(mu), get(c))))),
        store128(idx4(get(acc), get(c)), f32x4.add(load128(idx4(get(acc), get(c))), f32x4.mul(get(d), get(d)))),
      ],
      scalar: (c, off) => [
        set(ds, f32.sub(loadF32(i32.add(get(x), get(off))), loadF32(idx4(get(mu), get(c))))),
        storeF32(idx4(get(acc), get(c)), f32.add(loadF32(idx4(get(acc), get(c))), f32.mul(get(ds), get(ds)))),
      ],
      everyBlock: [foldCode],
    }),
  );
  return f;
}

/** act applied to vector z (a local); leaves the result. */
function actVec(act: SimdAct, z: Code, zero: number, six: number): Code {
  if (act === 'none') return z;
  if (act === 'relu') return f32x4.max(z, get(zero));
  return f32x4.min(f32x4.max(z, get(zero)), get(six));
}
function actScalar(act: SimdAct, z: Code): Code {
  if (act === 'none') return z;
  if (act === 'relu') return f32.max(z, f32c(0));
  return f32.min(f32.max(z, f32c(0)), f32c(6));
}
/** dy masked by act′(z): relu z > 0, relu6 0 < z ≤ 6. */
function maskVec(act: SimdAct, dy: Code, z: Code, zero: number, six: number): Code {
  if (act === 'none') return dy;
  if (act === 'relu') return v128.and(dy, f32x4.gt(z, get(zero)));
  return v128.and(v128.and(dy, f32x4.gt(z, get(zero))), f32x4.le(z, get(six)));
}
function maskScalar(act: SimdAct, dyLocal: number, z: Code): Code {
  if (act === 'none') return [];
  const keep = act === 'relu' ? f32.gt(z, f32c(0)) : i32.and(f32.gt(z, f32c(0)), f32.le(z, f32c(6)));
  return ifThen(i32.eqz(keep), set(dyLocal, f32c(0)));
}

function bnapply(act: SimdAct): Func {
  const f = new Func(`bnapply_${act}`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, y, a, b, rows, C] = [0, 1, 2, 3, 4, 5];
  const zero = f.local('v128');
  const six = f.local('v128');
  f.emit(set(zero, v128.zero()), set(six, f32x4.splat(f32c(6))));
  f.emit(
    rowLoop(f, rows, C, {
      vec: (c, off) => [
        store128(i32.add(get(y), get(off)), actVec(act, f32x4.add(f32x4.mul(load128(i32.add(get(x), get(off))), load128(idx4(get(a), get(c)))), load128(idx4(get(b), get(c)))), zero, six)),
      ],
      scalar: (c, off) => [
        storeF32(i32.add(get(y), get(off)), actScalar(act, f32.add(f32.mul(loadF32(i32.add(get(x), get(off))), loadF32(idx4(get(a), get(c)))), loadF32(idx4(get(b), get(c)))))),
      ],
    }),
  );
  return f;
}

function bnbwdsum(act: SimdAct): Func {
  const f = new Func(`bnbwdsum_${act}`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [dy, x, a, b, mu, rows, C, acc1, acc2, out1, out2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const zero = f.local('v128');
  const six = f.local('v128');
  const xv = f.local('v128');
  const d = f.local('v128');
  const xs = f.local('f32');
  const ds = f.local('f32');
  const fold1 = fold(f, acc1, out1, C);
  const fold2 = fold(f, acc2, out2, C);
  f.emit(set(zero, v128.zero()), set(six, f32x4.splat(f32c(6))));
  f.emit(
    rowLoop(f, rows, C, {
      vec: (c, off) => [
        set(xv, load128(i32.add(get(x), get(off)))),
        set(d, maskVec(act, load128(i32.add(get(dy), get(off))), f32x4.add(f32x4.mul(get(xv), load128(idx4(get(a), get(c)))), load128(idx4(get(b), get(c)))), zero, six)),
        store128(idx4(get(acc1), get(c)), f32x4.add(load128(idx4(get(acc1), get(c))), get(d))),
        store128(idx4(get(acc2), get(c)), f32x4.add(load128(idx4(get(acc2), get(c))), f32x4.mul(get(d), f32x4.sub(get(xv), load128(idx4(get(mu), get(c))))))),
      ],
      scalar: (c, off) => [
        set(xs, loadF32(i32.add(get(x), get(off)))),
        set(ds, loadF32(i32.add(get(dy), get(off)))),
        maskScalar(act, ds, f32.add(f32.mul(get(xs), loadF32(idx4(get(a), get(c)))), loadF32(idx4(get(b), get(c))))),
        storeF32(idx4(get(acc1), get(c)), f32.add(loadF32(idx4(get(acc1), get(c))), get(ds))),
        storeF32(idx4(get(acc2), get(c)), f32.add(loadF32(idx4(get(acc2), get(c))), f32.mul(get(ds), f32.sub(get(xs), loadF32(idx4(get(mu), get(c))))))),
      ],
      everyBlock: [fold1, fold2],
    }),
  );
  return f;
}

function bnbwdapply(act: SimdAct): Func {
  const f = new Func(`bnbwdapply_${act}`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [dy, x, a, b, mu, k1, k0, dx, rows, C] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const zero = f.local('v128');
  const six = f.local('v128');
  const xv = f.local('v128');
  const av = f.local('v128');
  const xs = f.local('f32');
  const ds = f.local('f32');
  const as = f.local('f32');
  f.emit(set(zero, v128.zero()), set(six, f32x4.splat(f32c(6))));
  f.emit(
    rowLoop(f, rows, C, {
      vec: (c, off) => [
        set(xv, load128(i32.add(get(x), get(off)))),
        set(av, load128(idx4(get(a), get(c)))),
        store128(
          i32.add(get(dx), get(off)),
          f32x4.add(
            f32x4.add(
              f32x4.mul(get(av), maskVec(act, load128(i32.add(get(dy), get(off))), f32x4.add(f32x4.mul(get(xv), get(av)), load128(idx4(get(b), get(c)))), zero, six)),
              f32x4.mul(load128(idx4(get(k1), get(c))), f32x4.sub(get(xv), load128(idx4(get(mu), get(c))))),
            ),
            load128(idx4(get(k0), get(c))),
          ),
        ),
      ],
      scalar: (c, off) => [
        set(xs, loadF32(i32.add(get(x), get(off)))),
        set(as, loadF32(idx4(get(a), get(c)))),
        set(ds, loadF32(i32.add(get(dy), get(off)))),
        maskScalar(act, ds, f32.add(f32.mul(get(xs), get(as)), loadF32(idx4(get(b), get(c))))),
        storeF32(
          i32.add(get(dx), get(off)),
          f32.add(f32.add(f32.mul(get(as), get(ds)), f32.mul(loadF32(idx4(get(k1), get(c))), f32.sub(get(xs), loadF32(idx4(get(mu), get(c)))))), loadF32(idx4(get(k0), get(c)))),
        ),
      ],
    }),
  );
  return f;
}

/**
 * Depthwise convolution gradients (channel multiplier 1), one loop nest for both:
 *   dwfilter: dW[ky, kx, c] += Σ_{n, oy, ox} x[n, iy, ix, c] · dy[n, oy, ox, c]
 *             accumulated per output row in rowacc32 (KH·KW·C floats) and folded into out64;
 *   dwinput:  dx[n, iy, ix, c] += w[ky, kx, c] · dy[n, oy, ox, c]   (dx zeroed by the caller)
 * with iy = oy·SH + ky·DH − top, ix = ox·SW + kx·DW − left.
 * Arguments: dwfilter(x, dy, rowacc32, out64, …geometry), dwinput(dx, dy, w, unused, …geometry),
 * geometry = N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left.
 */
function depthwiseGrad(kind: 'dwfilter' | 'dwinput'): Func {
  const f = new Func(kind, new Array<'i32'>(18).fill('i32'));
  // for dwfilter: X = x, T = rowacc (target), O = out64; for dwinput: X = dx (target), T = w (source)
  const [X, dy, T, out, N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, top, left] = [...Array(18).keys()] as [
    number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  const n = f.local('i32');
  const oy = f.local('i32');
  const ky = f.local('i32');
  const kx = f.local('i32');
  const ox = f.local('i32');
  const iy = f.local('i32');
  const ix = f.local('i32');
  const c = f.local('i32');
  const C4 = f.local('i32');
  const KC = f.local('i32'); // KH·KW·C
  const xRow = f.local('i32'); // byte address of X[n, iy, 0, 0]
  const dyRow = f.local('i32'); // byte address of dy[n, oy, 0, 0]
  const xp = f.local('i32');
  const dyp = f.local('i32');
  const wp = f.local('i32');
  const foldCode = kind === 'dwfilter' ? fold(f, T, out, KC) : [];
  const C4B = i32.shl(get(C), i32c(2)); // C·4 bytes
  // filter: T[wp + c] += X[xp + c]·dy[dyp + c];  input: X[xp + c] += T[wp + c]·dy[dyp + c]
  const [accP, srcP] = kind === 'dwfilter' ? [wp, xp] : [xp, wp];
  f.emit(
    set(C4, i32.and(get(C), i32c(~3))),
    set(KC, i32.mul(i32.mul(get(KH), get(KW)), get(C))),
    forLoop(n, i32c(0), get(N), 1, [
      forLoop(oy, i32c(0), get(OH), 1, [
        set(dyRow, i32.add(get(dy), i32.mul(i32.mul(i32.add(i32.mul(get(n), get(OH)), get(oy)), get(OW)), C4B))),
        forLoop(ky, i32c(0), get(KH), 1, [
          set(iy, i32.sub(i32.add(i32.mul(get(oy), get(SH)), i32.mul(get(ky), get(DH))), get(top))),
          ifThen(
            i32.and(i32.geS(get(iy), i32c(0)), i32.ltS(get(iy), get(H))),
            set(xRow, i32.add(get(X), i32.mul(i32.mul(i32.add(i32.mul(get(n), get(H)), get(iy)), get(W)), C4B))),
            forLoop(kx, i32c(0), get(KW), 1, [
              set(wp, i32.add(get(T), i32.mul(i32.add(i32.mul(get(ky), get(KW)), get(kx)), C4B))),
              forLoop(ox, i32c(0), get(OW), 1, [
                set(ix, i32.sub(i32.add(i32.mul(get(ox), get(SW)), i32.mul(get(kx), get(DW))), get(left))),
                ifThen(
                  i32.and(i32.geS(get(ix), i32c(0)), i32.ltS(get(ix), get(W))),
                  set(xp, i32.add(get(xRow), i32.mul(get(ix), C4B))),
                  set(dyp, i32.add(get(dyRow), i32.mul(get(ox), C4B))),
                  forLoop(c, i32c(0), get(C4), 4, [
                    store128(
                      idx4(get(accP), get(c)),
                      f32x4.add(load128(idx4(get(accP), get(c))), f32x4.mul(load128(idx4(get(srcP), get(c))), load128(idx4(get(dyp), get(c))))),
                    ),
                  ]),
                  forLoop(c, get(C4), get(C), 1, [
                    storeF32(idx4(get(accP), get(c)), f32.add(loadF32(idx4(get(accP), get(c))), f32.mul(loadF32(idx4(get(srcP), get(c))), loadF32(idx4(get(dyp), get(c)))))),
                  ]),
                ),
              ]),
            ]),
          ),
        ]),
        foldCode,
      ]),
    ]),
  );
  return f;
}

/**
 * out[c, r] = in[r, c] for a row-major [R, C] float32 matrix: 4×4 blocks transposed in registers
 * (eight shuffles), visited in 16-row × 8-column tiles so that each tile writes whole 64-byte
 * output lines (output rows are R·4 bytes apart, often a multiple of 4 KiB, which would otherwise
 * make every row of a column of blocks collide in one L1 set); the R mod 4 and C mod 4 edges
 * element by element. Arguments: src, dst, R, C.
 */
function transpose2d(): Func {
  const f = new Func('transpose2d', ['i32', 'i32', 'i32', 'i32']);
  const [src, dst, R, C] = [0, 1, 2, 3];
  const r = f.local('i32');
  const c = f.local('i32');
  const r0 = f.local('i32');
  const c0 = f.local('i32');
  const rEnd = f.local('i32');
  const cEnd = f.local('i32');
  const R4 = f.local('i32');
  const C4 = f.local('i32');
  const rowB = f.local('i32'); // C·4: bytes per input row
  const colB = f.local('i32'); // R·4: bytes per output row
  const p = f.local('i32'); // src address of (r, c)
  const q = f.local('i32'); // dst address of (c, r)
  const [a, b, cc, d, t0, t1, t2, t3] = [0, 1, 2, 3, 4, 5, 6, 7].map(() => f.local('v128')) as [number, number, number, number, number, number, number, number];
  const at = (base: Code, row: Code, col: Code, rowBytes: number): Code => i32.add(base, i32.add(i32.mul(row, get(rowBytes)), i32.shl(col, i32c(2))));
  const block: Code[] = [
    set(p, at(get(src), get(r), get(c), rowB)),
    set(a, load128(get(p))),
    set(b, load128(i32.add(get(p), get(rowB)))),
    set(cc, load128(i32.add(get(p), i32.shl(get(rowB), i32c(1))))),
    set(d, load128(i32.add(get(p), i32.mul(get(rowB), i32c(3))))),
    set(t0, v128.shuffle32(get(a), get(b), [0, 4, 1, 5])),
    set(t1, v128.shuffle32(get(a), get(b), [2, 6, 3, 7])),
    set(t2, v128.shuffle32(get(cc), get(d), [0, 4, 1, 5])),
    set(t3, v128.shuffle32(get(cc), get(d), [2, 6, 3, 7])),
    set(q, at(get(dst), get(c), get(r), colB)),
    store128(get(q), v128.shuffle32(get(t0), get(t2), [0, 1, 4, 5])),
    store128(i32.add(get(q), get(colB)), v128.shuffle32(get(t0), get(t2), [2, 3, 6, 7])),
    store128(i32.add(get(q), i32.shl(get(colB), i32c(1))), v128.shuffle32(get(t1), get(t3), [0, 1, 4, 5])),
    store128(i32.add(get(q), i32.mul(get(colB), i32c(3))), v128.shuffle32(get(t1), get(t3), [2, 3, 6, 7])),
  ];
  f.emit(
    set(R4, i32.and(get(R), i32c(~3))),
    set(C4, i32.and(get(C), i32c(~3))),
    set(rowB, i32.shl(get(C), i32c(2))),
    set(colB, i32.shl(get(R), i32c(2))),
    forLoop(r0, i32c(0), get(R4), 16, [
      set(rEnd, minS(i32.add(get(r0), i32c(16)), get(R4))),
      forLoop(c0, i32c(0), get(C4), 8, [
        set(cEnd, minS(i32.add(get(c0), i32c(8)), get(C4))),
        forLoop(r, get(r0), get(rEnd), 4, [forLoop(c, get(c0), get(cEnd), 4, block)]),
      ]),
      // columns C4..C of rows r0..rEnd
      forLoop(r, get(r0), get(rEnd), 1, [forLoop(c, get(C4), get(C), 1, [storeF32(at(get(dst), get(c), get(r), colB), loadF32(at(get(src), get(r), get(c), rowB)))])]),
    ]),
    // rows R4..R
    forLoop(r, get(R4), get(R), 1, [forLoop(c, i32c(0), get(C), 1, [storeF32(at(get(dst), get(c), get(r), colB), loadF32(at(get(src), get(r), get(c), rowB)))])]),
  );
  return f;
}

/**
 * One optimiser update over n weights, in place of ~14 tfjs kernel calls per variable:
 *   g′ = g + wd·w
 *   adam: m′ = β1·m + (1−β1)·g′;  v′ = β2·v + (1−β2)·g′²;  w′ = w − lr·(m′/bc1)/(√(v′/bc2) + ε)
 *   sgd:  m′ = μ·m + g′;  w′ = w − lr·m′
 * Arguments (pointers, n, then f32 hyper-parameters): adam(w, g, m, v, wOut, mOut, vOut, n,
 * lr, β1, β2, 1−β1, 1−β2, ε, bc1, bc2, wd); sgd(w, g, m, wOut, mOut, n, lr, μ, wd).
 */
function optimizerStep(kind: 'adam' | 'sgd'): Func {
  const adam = kind === 'adam';
  const params: Array<'i32' | 'f32'> = adam
    ? ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32']
    : ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32'];
  const f = new Func(`opt_${kind}`, params);
  const i = f.local('i32');
  const n4 = f.local('i32');
  const off = f.local('i32');
  const gv = f.local('v128');
  const mv = f.local('v128');
  const vv = f.local('v128');
  const gs = f.local('f32');
  const ms = f.local('f32');
  const vs = f.local('f32');
  const splat = (p: number): number => {
    const l = f.local('v128');
    f.emit(set(l, f32x4.splat(get(p))));
    return l;
  };
  if (adam) {
    // c1 = 1 − β1 and c2 = 1 − β2 come from the caller, rounded once from double precision as tf.mul(x, 1 − β) does
    const [w, g, m, v, wo, mo, vo, n, lr, b1, b2, c1, c2, eps, bc1, bc2, wd] = [...Array(17).keys()] as [
      number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number,
    ];
    const [LR, B1, B2, EPS, BC1, BC2, WD, C1, C2] = [lr, b1, b2, eps, bc1, bc2, wd, c1, c2].map(splat) as [number, number, number, number, number, number, number, number, number];
    const at = (base: number): Code => i32.add(get(base), get(off));
    f.emit(
      set(n4, i32.and(get(n), i32c(~3))),
      forLoop(i, i32c(0), get(n4), 4, [
        set(off, i32.shl(get(i), i32c(2))),
        set(gv, f32x4.add(load128(at(g)), f32x4.mul(get(WD), load128(at(w))))),
        set(mv, f32x4.add(f32x4.mul(get(B1), load128(at(m))), f32x4.mul(get(C1), get(gv)))),
        set(vv, f32x4.add(f32x4.mul(get(B2), load128(at(v))), f32x4.mul(get(C2), f32x4.mul(get(gv), get(gv))))),
        store128(at(mo), get(mv)),
        store128(at(vo), get(vv)),
        store128(at(wo), f32x4.sub(load128(at(w)), f32x4.mul(get(LR), f32x4.div(f32x4.div(get(mv), get(BC1)), f32x4.add(f32x4.sqrt(f32x4.div(get(vv), get(BC2))), get(EPS)))))),
      ]),
      forLoop(i, get(n4), get(n), 1, [
        set(off, i32.shl(get(i), i32c(2))),
        set(gs, f32.add(loadF32(at(g)), f32.mul(get(wd), loadF32(at(w))))),
        set(ms, f32.add(f32.mul(get(b1), loadF32(at(m))), f32.mul(get(c1), get(gs)))),
        set(vs, f32.add(f32.mul(get(b2), loadF32(at(v))), f32.mul(get(c2), f32.mul(get(gs), get(gs))))),
        storeF32(at(mo), get(ms)),
        storeF32(at(vo), get(vs)),
        storeF32(at(wo), f32.sub(loadF32(at(w)), f32.mul(get(lr), f32.div(f32.div(get(ms), get(bc1)), f32.add(f32.sqrt(f32.div(get(vs), get(bc2))), get(eps)))))),
      ]),
    );
  } else {
    const [w, g, m, wo, mo, n, lr, mu, wd] = [...Array(9).keys()] as [number, number, number, number, number, number, number, number, number];
    const [LR, MU, WD] = [lr, mu, wd].map(splat) as [number, number, number];
    const at = (base: number): Code => i32.add(get(base), get(off));
    f.emit(
      set(n4, i32.and(get(n), i32c(~3))),
      forLoop(i, i32c(0), get(n4), 4, [
        set(off, i32.shl(get(i), i32c(2))),
        set(mv, f32x4.add(f32x4.mul(get(MU), load128(at(m))), f32x4.add(load128(at(g)), f32x4.mul(get(WD), load128(at(w)))))),
        store128(at(mo), get(mv)),
        store128(at(wo), f32x4.sub(load128(at(w)), f32x4.mul(get(LR), get(mv)))),
      ]),
      forLoop(i, get(n4), get(n), 1, [
        set(off, i32.shl(get(i), i32c(2))),
        set(ms, f32.add(f32.mul(get(mu), loadF32(at(m))), f32.add(loadF32(at(g)), f32.mul(get(wd), loadF32(at(w)))))),
        storeF32(at(mo), get(ms)),
        storeF32(at(wo), f32.sub(loadF32(at(w)), f32.mul(get(lr), get(ms)))),
      ]),
    );
    void vv;
    void vs;
  }
  return f;
}

/**
 * The gradient of a bilinear resize (resize.ts), with the JS loop's arithmetic so that the bits are
 * the same: dx[n, lo/hi(oy), lo/hi(ox), c] += dy[n, oy, ox, c]·w in float64, w one of the four tap
 * weights (1 − fy)(1 − fx), (1 − fy)·fx, fy·(1 − fx), fy·fx in float64, rounded to float32 once per
 * store (four channels a time in two f64x2 halves). Per-axis taps precomputed: `taps` holds i32 lo
 * [OH], hi [OH], lo [OW], hi [OW]; `ftaps` (8-byte aligned) f64 f [OH], f [OW]. dx zeroed by the
 * caller. Arguments: dx, dy, N, H, W, C, OH, OW, taps, ftaps.
 */
function resizeGrad(): Func {
  const f = new Func('resizegrad', new Array<'i32'>(10).fill('i32'));
  const [dx, dy, N, H, W, C, OH, OW, taps, ftaps] = [...Array(10).keys()] as [number, number, number, number, number, number, number, number, number, number];
  const [n, oy, ox, c, C4, C4B, dyp, rowLo, rowHi, tl, tr, bl, br] = Array.from({ length: 13 }, () => f.local('i32')) as [
    number, number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  const [fy, fx, a, b] = [f.local('f64'), f.local('f64'), f.local('f64'), f.local('f64')];
  const w = [f.local('f64'), f.local('f64'), f.local('f64'), f.local('f64')] as const; // TL, TR, BL, BR
  const wv = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')] as const;
  const [d, dlo, dhi, t] = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const ds = f.local('f64');
  const targets = [tl, tr, bl, br] as const;
  // taps: lo and hi of the height at 0 and 4·OH, of the width at 8·OH and 8·OH + 4·OW; f of the height at ftaps, of the width at ftaps + 8·OH
  const iTap = (k: number, axis: 0 | 1, i: Code): Code => idx4(i32.add(get(taps), axis === 0 ? i32.mul(get(OH), i32c(4 * k)) : i32.add(i32.mul(get(OH), i32c(8)), i32.mul(get(OW), i32c(4 * k)))), i);
  const fTap = (axis: 0 | 1, i: Code): Code => idx8(axis === 0 ? get(ftaps) : i32.add(get(ftaps), i32.mul(get(OH), i32c(8))), i);
  const row = (lo: Code): Code => i32.add(get(dx), i32.mul(i32.mul(i32.add(i32.mul(get(n), get(H)), lo), get(W)), get(C4B)));
  /** target[c..c+4] += d·w in float64, rounded to float32 once */
  const addInto = (target: number, k: number): Code =>
    store128(
      idx4(get(target), get(c)),
      [
        ...set(t, load128(idx4(get(target), get(c)))),
        ...v128.shuffle32(
          f32x4.demoteZero(f64x2.add(f32x4.promoteLow(get(t)), f64x2.mul(get(dlo), get(wv[k]!)))),
          f32x4.demoteZero(f64x2.add(f32x4.promoteLow(v128.highToLow(get(t))), f64x2.mul(get(dhi), get(wv[k]!)))),
          [0, 1, 4, 5],
        ),
      ],
    );
  f.emit(
    set(C4, i32.and(get(C), i32c(~3))),
    set(C4B, i32.shl(get(C), i32c(2))),
    set(dyp, get(dy)),
    forLoop(n, i32c(0), get(N), 1, [
      forLoop(oy, i32c(0), get(OH), 1, [
        set(fy, loadF64(fTap(0, get(oy)))),
        set(rowLo, row(loadI32(iTap(0, 0, get(oy))))),
        set(rowHi, row(loadI32(iTap(1, 0, get(oy))))),
        forLoop(ox, i32c(0), get(OW), 1, [
          set(fx, loadF64(fTap(1, get(ox)))),
          set(a, f64.sub(f64c(1), get(fy))),
          set(b, f64.sub(f64c(1), get(fx))),
          set(w[0], f64.mul(get(a), get(b))),
          set(w[1], f64.mul(get(a), get(fx))),
          set(w[2], f64.mul(get(fy), get(b))),
          set(w[3], f64.mul(get(fy), get(fx))),
          ...w.map((x, i) => set(wv[i]!, f64x2.splat(get(x)))),
          set(tl, i32.add(get(rowLo), i32.mul(loadI32(iTap(0, 1, get(ox))), get(C4B)))),
          set(tr, i32.add(get(rowLo), i32.mul(loadI32(iTap(1, 1, get(ox))), get(C4B)))),
          set(bl, i32.add(get(tl), i32.sub(get(rowHi), get(rowLo)))),
          set(br, i32.add(get(tr), i32.sub(get(rowHi), get(rowLo)))),
          forLoop(c, i32c(0), get(C4), 4, [
            set(d, load128(idx4(get(dyp), get(c)))),
            set(dlo, f32x4.promoteLow(get(d))),
            set(dhi, f32x4.promoteLow(v128.highToLow(get(d)))),
            ...targets.map((tg, k) => addInto(tg, k)),
          ]),
          forLoop(c, get(C4), get(C), 1, [
            set(ds, f32.promote(loadF32(idx4(get(dyp), get(c))))),
            ...targets.map((tg, k) => storeF32(idx4(get(tg), get(c)), f64.demote(f64.add(f32.promote(loadF32(idx4(get(tg), get(c)))), f64.mul(get(ds), get(w[k]!)))))),
          ]),
          set(dyp, i32.add(get(dyp), get(C4B))),
        ]),
      ]),
    ]),
  );
  return f;
}

/** Rows of A and B packed per pass of gemmtn (its panels stay in the L2 cache). */
export const GEMM_MC = 256;

/**
 * out[k, n] += Σ_m A[m, k]·B[m, n] for A [M, K] and B [M, N] row-major (a filter gradient: A the
 * layer's input, B its output gradient), for the columns n ∈ [n0, n1) and every k. Per pass of
 * GEMM_MC rows: A's rows packed into panels of 4 columns (Ap [⌈K/4⌉][MC][4]) and B's into panels
 * of 8 (Bp [⌈(n1−n0)/8⌉][MC][8]), zero-padded; then each 4 × 8 tile of out accumulates over the
 * pass in eight registers (a splat of A's element times two vectors of B per row) and is added to
 * out, through the 32-float scratch T where the tile overhangs K or n1. float32 throughout, like
 * XNNPACK's GEMM. Arguments: A, B, out, M, K, N, n0, n1, Ap, Bp, T.
 */
function gemmTN(): Func {
  const f = new Func('gemmtn', new Array<'i32'>(11).fill('i32'));
  const [A, B, out, M, K, N, n0, n1, Ap, Bp, T] = [...Array(11).keys()] as [number, number, number, number, number, number, number, number, number, number, number];
  const L = (t: 'i32' | 'v128') => f.local(t);
  const [m0, mr, m, i, j, r, c, NP, K4, nw, pa, pb, row, kk, nn, rows, cols, dst] = Array.from({ length: 18 }, () => L('i32')) as [
    number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  const acc = Array.from({ length: 8 }, () => L('v128'));
  const [b0, b1, av] = [L('v128'), L('v128'), L('v128')];
  const MC = GEMM_MC;
  // Ap: panel i, row m at Ap + (i·MC + m)·16; Bp: panel j, row m at Bp + (j·MC + m)·32
  const packA: Code[] = [
    set(row, idx4(get(A), i32.mul(i32.add(get(m0), get(m)), get(K)))),
    forLoop(i, i32c(0), get(K4), 1, [
      ifElse(
        i32.leS(i32.shl(i32.add(get(i), i32c(1)), i32c(2)), get(K)),
        [store128(i32.add(get(Ap), i32.shl(i32.add(i32.mul(get(i), i32c(MC)), get(m)), i32c(4))), load128(i32.add(get(row), i32.shl(get(i), i32c(4)))))],
        [
          set(dst, i32.add(get(Ap), i32.shl(i32.add(i32.mul(get(i), i32c(MC)), get(m)), i32c(4)))),
          store128(get(dst), v128.zero()),
          forLoop(r, i32c(0), i32.sub(get(K), i32.shl(get(i), i32c(2))), 1, [storeF32(idx4(get(dst), get(r)), loadF32(idx4(get(row), i32.add(i32.shl(get(i), i32c(2)), get(r)))))]),
        ],
      ),
    ]),
  ];
  const packB: Code[] = [
    set(row, idx4(get(B), i32.add(i32.mul(i32.add(get(m0), get(m)), get(N)), get(n0)))),
    forLoop(j, i32c(0), get(NP), 1, [
      set(dst, i32.add(get(Bp), i32.shl(i32.add(i32.mul(get(j), i32c(MC)), get(m)), i32c(5)))),
      ifElse(
        i32.leS(i32.shl(i32.add(get(j), i32c(1)), i32c(3)), get(nw)),
        [store128(get(dst), load128(i32.add(get(row), i32.shl(get(j), i32c(5))))), store128(get(dst), load128(i32.add(get(row), i32.shl(get(j), i32c(5))), 16), 16)],
        [
          store128(get(dst), v128.zero()),
          store128(get(dst), v128.zero(), 16),
          forLoop(c, i32c(0), i32.sub(get(nw), i32.shl(get(j), i32c(3))), 1, [storeF32(idx4(get(dst), get(c)), loadF32(idx4(get(row), i32.add(i32.shl(get(j), i32c(3)), get(c)))))]),
        ],
      ),
    ]),
  ];
  const kernel: Code[] = [
    ...acc.map((a) => set(a, v128.zero())),
    set(pa, i32.add(get(Ap), i32.mul(get(i), i32c(MC * 16)))),
    set(pb, i32.add(get(Bp), i32.mul(get(j), i32c(MC * 32)))),
    forLoop(m, i32c(0), get(mr), 1, [
      set(b0, load128(get(pb))),
      set(b1, load128(get(pb), 16)),
      ...[0, 1, 2, 3].flatMap((q) => [
        set(av, load32Splat(get(pa), 4 * q)),
        set(acc[2 * q]!, f32x4.add(get(acc[2 * q]!), f32x4.mul(get(av), get(b0)))),
        set(acc[2 * q + 1]!, f32x4.add(get(acc[2 * q + 1]!), f32x4.mul(get(av), get(b1)))),
      ]),
      set(pa, i32.add(get(pa), i32c(16))),
      set(pb, i32.add(get(pb), i32c(32))),
    ]),
    // the tile's corner (kk, nn) in out; rows × cols of it inside out
    set(kk, i32.shl(get(i), i32c(2))),
    set(nn, i32.add(get(n0), i32.shl(get(j), i32c(3)))),
    set(rows, minS(i32c(4), i32.sub(get(K), get(kk)))),
    set(cols, minS(i32c(8), i32.sub(get(n1), get(nn)))),
    ifElse(
      i32.and(i32.eq(get(rows), i32c(4)), i32.eq(get(cols), i32c(8))),
      [0, 1, 2, 3].flatMap((q) => [
        set(dst, idx4(get(out), i32.add(i32.mul(i32.add(get(kk), i32c(q)), get(N)), get(nn)))),
        store128(get(dst), f32x4.add(load128(get(dst)), get(acc[2 * q]!))),
        store128(get(dst), f32x4.add(load128(get(dst), 16), get(acc[2 * q + 1]!)), 16),
      ]),
      [
        ...[0, 1, 2, 3].flatMap((q) => [store128(get(T), get(acc[2 * q]!), 32 * q), store128(get(T), get(acc[2 * q + 1]!), 32 * q + 16)]),
        forLoop(r, i32c(0), get(rows), 1, [
          forLoop(c, i32c(0), get(cols), 1, [
            set(dst, idx4(get(out), i32.add(i32.mul(i32.add(get(kk), get(r)), get(N)), i32.add(get(nn), get(c))))),
            storeF32(get(dst), f32.add(loadF32(get(dst)), loadF32(idx4(get(T), i32.add(i32.shl(get(r), i32c(3)), get(c)))))),
          ]),
        ]),
      ],
    ),
  ];
  f.emit(
    set(nw, i32.sub(get(n1), get(n0))),
    set(K4, [...i32.add(get(K), i32c(3)), ...i32c(2), 0x75]), // ⌈K/4⌉ (i32.shr_s)
    set(NP, [...i32.add(get(nw), i32c(7)), ...i32c(3), 0x75]), // ⌈nw/8⌉
    forLoop(m0, i32c(0), get(M), MC, [
      set(mr, minS(i32c(MC), i32.sub(get(M), get(m0)))),
      forLoop(m, i32c(0), get(mr), 1, [...packA, ...packB]),
      forLoop(j, i32c(0), get(NP), 1, [forLoop(i, i32c(0), get(K4), 1, kernel)]),
    ]),
  );
  return f;
}

/** Rows of A per block of gemmnn (the block's rows and the packed B stay in L2). */
export const GEMM_NN_MB = 64;
/** Rows of a gemmnn tile (more spill V8's sixteen vector registers). */
const TR = 4;

/**
 * gemmpack(B, Bp, K, N, rs, cs): B [K, N] (element (k, n) at B + 4·(k·rs + n·cs)) into panels of
 * 8 columns, panel j's K rows of 8 floats at Bp + j·K·32, zero past column N.
 */
function gemmPack(): Func {
  const f = new Func('gemmpack', new Array<'i32'>(6).fill('i32'));
  const [B, Bp, K, N, rs, cs] = [0, 1, 2, 3, 4, 5];
  const [j, k, c, n, NP, dst] = Array.from({ length: 6 }, () => f.local('i32')) as [number, number, number, number, number, number];
  f.emit(
    set(NP, [...i32.add(get(N), i32c(7)), ...i32c(3), 0x75]), // ⌈N/8⌉ (i32.shr_s)
    set(dst, get(Bp)),
    forLoop(j, i32c(0), get(NP), 1, [
      forLoop(k, i32c(0), get(K), 1, [
        forLoop(c, i32c(0), i32c(8), 1, [
          set(n, i32.add(i32.shl(get(j), i32c(3)), get(c))),
          ifElse(
            i32.ltS(get(n), get(N)),
            [storeF32(get(dst), loadF32(idx4(get(B), i32.add(i32.mul(get(k), get(rs)), i32.mul(get(n), get(cs))))))],
            [storeF32(get(dst), f32c(0))],
          ),
          set(dst, i32.add(get(dst), i32c(4))),
        ]),
      ]),
    ]),
  );
  return f;
}

/**
 * gemmnn(A, Bp, C, m0, m1, K, N, T, bias, act): rows [m0, m1) of C [M, N] = act(bias + A [M, K] ·
 * B [K, N]) (row-major), B packed by gemmpack, bias as one more panel row set (⌈N/8⌉·8 floats, zero
 * past N; zeros for none), act 0 none, 1 relu, 2 relu6. Rows in blocks of GEMM_NN_MB; in a block,
 * for each panel, tiles of 4 rows × 8 columns in eight registers started at the bias (per k: a
 * load32_splat of each row's A times the panel's two vectors), float32 throughout in XNNPACK's
 * order. A tile's missing rows repeat its first (computed, not stored). T: 32 floats of scratch for
 * partial tiles.
 */
function gemmNN(): Func {
  const f = new Func('gemmnn', new Array<'i32'>(10).fill('i32'));
  const [A, Bp, C, m0, m1, K, N, T, bias, act] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const L = () => f.local('i32');
  const [mb, me, j, i, k, pb, rows, cols, NP, dst, r, c] = Array.from({ length: 12 }, L) as [
    number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  const pa = Array.from({ length: TR }, L);
  const acc = Array.from({ length: 2 * TR }, () => f.local('v128'));
  const [b0, b1, av] = [f.local('v128'), f.local('v128'), f.local('v128')];
  const kernel: Code[] = [
    set(rows, minS(i32c(TR), i32.sub(get(me), get(i)))),
    ...pa.map((p, q) => set(p, idx4(get(A), i32.mul(i32.add(get(i), q === 0 ? i32c(0) : minS(i32c(q), i32.sub(get(rows), i32c(1)))), get(K))))),
    set(pb, i32.add(get(Bp), i32.shl(i32.mul(get(j), get(K)), i32c(5)))),
    set(b0, load128(i32.add(get(bias), i32.shl(get(j), i32c(5))))),
    set(b1, load128(i32.add(get(bias), i32.shl(get(j), i32c(5))), 16)),
    ...acc.map((a, q) => set(a, get(q % 2 === 0 ? b0 : b1))),
    forLoop(k, i32c(0), get(K), 1, [
      set(b0, load128(get(pb))),
      set(b1, load128(get(pb), 16)),
      ...pa.flatMap((p, q) => [
        set(av, load32Splat(get(p))),
        set(acc[2 * q]!, f32x4.add(get(acc[2 * q]!), f32x4.mul(get(av), get(b0)))),
        set(acc[2 * q + 1]!, f32x4.add(get(acc[2 * q + 1]!), f32x4.mul(get(av), get(b1)))),
        set(p, i32.add(get(p), i32c(4))),
      ]),
      set(pb, i32.add(get(pb), i32c(32))),
    ]),
    set(cols, minS(i32c(8), i32.sub(get(N), i32.shl(get(j), i32c(3))))),
    ifThen(
      get(act),
      set(b0, v128.zero()),
      set(b1, f32x4.splat(f32c(6))),
      ...acc.map((a) => set(a, f32x4.max(get(a), get(b0)))),
      ifThen(i32.eq(get(act), i32c(2)), ...acc.map((a) => set(a, f32x4.min(get(a), get(b1))))),
    ),
    ifElse(
      i32.and(i32.eq(get(rows), i32c(TR)), i32.eq(get(cols), i32c(8))),
      [...Array(TR).keys()].flatMap((q) => [
        set(dst, idx4(get(C), i32.add(i32.mul(i32.add(get(i), i32c(q)), get(N)), i32.shl(get(j), i32c(3))))),
        store128(get(dst), get(acc[2 * q]!)),
        store128(get(dst), get(acc[2 * q + 1]!), 16),
      ]),
      [
        ...[...Array(TR).keys()].flatMap((q) => [store128(get(T), get(acc[2 * q]!), 32 * q), store128(get(T), get(acc[2 * q + 1]!), 32 * q + 16)]),
        forLoop(r, i32c(0), get(rows), 1, [
          forLoop(c, i32c(0), get(cols), 1, [
            storeF32(idx4(get(C), i32.add(i32.mul(i32.add(get(i), get(r)), get(N)), i32.add(i32.shl(get(j), i32c(3)), get(c)))), loadF32(idx4(get(T), i32.add(i32.shl(get(r), i32c(3)), get(c))))),
          ]),
        ]),
      ],
    ),
  ];
  f.emit(
    set(NP, [...i32.add(get(N), i32c(7)), ...i32c(3), 0x75]), // ⌈N/8⌉ (i32.shr_s)
    forLoop(mb, get(m0), get(m1), GEMM_NN_MB, [
      set(me, minS(i32.add(get(mb), i32c(GEMM_NN_MB)), get(m1))),
      forLoop(j, i32c(0), get(NP), 1, [forLoop(i, get(mb), get(me), TR, kernel)]),
    ]),
  );
  return f;
}

/** The generated module's bytes (importing a shared memory when `shared`). */
export function simdModuleBytes(shared = false): Uint8Array {
  const fns = [colsum(), colsumsq(), ...SIMD_ACTS.map(bnapply), ...SIMD_ACTS.map(bnbwdsum), ...SIMD_ACTS.map(bnbwdapply), depthwiseGrad('dwfilter'), depthwiseGrad('dwinput'), transpose2d(), gemmTN(), gemmPack(), gemmNN(), resizeGrad(), optimizerStep('adam'), optimizerStep('sgd')];
  return buildModule(fns, shared);
}

type I = number;
/** The exports of the SIMD module. */
export type SimdExports = {
  colsum(x: I, rows: I, C: I, acc32: I, out64: I): void;
  colsumsq(x: I, rows: I, C: I, mu: I, acc32: I, out64: I): void;
  dwfilter(x: I, dy: I, racc: I, out64: I, N: I, H: I, W: I, C: I, OH: I, OW: I, KH: I, KW: I, SH: I, SW: I, DH: I, DW: I, top: I, left: I): void;
  dwinput(dx: I, dy: I, w: I, unused: I, N: I, H: I, W: I, C: I, OH: I, OW: I, KH: I, KW: I, SH: I, SW: I, DH: I, DW: I, top: I, left: I): void;
  transpose2d(src: I, dst: I, R: I, C: I): void;
  gemmtn(A: I, B: I, out: I, M: I, K: I, N: I, n0: I, n1: I, Ap: I, Bp: I, T: I): void;
  gemmpack(B: I, Bp: I, K: I, N: I, rs: I, cs: I): void;
  gemmnn(A: I, Bp: I, C: I, m0: I, m1: I, K: I, N: I, T: I, bias: I, act: I): void;
  resizegrad(dx: I, dy: I, N: I, H: I, W: I, C: I, OH: I, OW: I, taps: I, ftaps: I): void;
  opt_adam(w: I, g: I, m: I, v: I, wOut: I, mOut: I, vOut: I, n: I, lr: number, b1: number, b2: number, c1: number, c2: number, eps: number, bc1: number, bc2: number, wd: number): void;
  opt_sgd(w: I, g: I, m: I, wOut: I, mOut: I, n: I, lr: number, mu: number, wd: number): void;
} & { [K in `bnapply_${SimdAct}`]: (x: I, y: I, a: I, b: I, rows: I, C: I) => void } & {
  [K in `bnbwdsum_${SimdAct}`]: (dy: I, x: I, a: I, b: I, mu: I, rows: I, C: I, acc1: I, acc2: I, out1: I, out2: I) => void;
} & { [K in `bnbwdapply_${SimdAct}`]: (dy: I, x: I, a: I, b: I, mu: I, k1: I, k0: I, dx: I, rows: I, C: I) => void };

/** The part of the WebAssembly JS API used here (the TypeScript libs in use do not declare it). */
interface WasmJsApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

const compiled = new Map<boolean, object>();

/** The compiled SIMD module (importing a shared memory when `shared`); undefined without wasm SIMD. */
export function compiledSimdModule(shared: boolean): object | undefined {
  let mod = compiled.get(shared);
  if (!mod) {
    try {
      mod = new WA.Module(simdModuleBytes(shared));
    } catch {
      return undefined; // an engine without wasm SIMD (or shared memory)
    }
    compiled.set(shared, mod);
  }
  return mod;
}

/**
 * Instantiate the SIMD kernels on `memory` (tfjs-backend-wasm's WebAssembly.Memory); undefined
 * where that fails (no wasm SIMD in this runtime), and the callers use their JS loops instead.
 */
export function instantiateSimd(memory: unknown): SimdExports | undefined {
  const shared = typeof SharedArrayBuffer !== 'undefined' && (memory as { buffer: unknown }).buffer instanceof SharedArrayBuffer;
  const mod = compiledSimdModule(shared);
  if (!mod) return undefined;
  try {
    return new WA.Instance(mod, { env: { memory } }).exports as SimdExports;
  } catch {
    return undefined;
  }
}
