/**
 * A minimal WebAssembly binary writer, enough for seg's SIMD kernels (simd.ts): i32/f32/f64/v128
 * locals, loads and stores, arithmetic, structured loops, and a module that imports its memory.
 *
 * Code is built as byte arrays from small expression helpers (`Code` = the bytes of one
 * instruction sequence that leaves its value on the stack), so a kernel reads as nested calls:
 *   set(acc, f32x4.add(get(acc), f32x4.mul(load128(px), load128(py))))
 * The module is compiled at run time (WebAssembly.Module), so there is no build step and no
 * binary in the repository.
 */

/** Value types. */
export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
const TYPE_CODE: Readonly<Record<ValType, number>> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** The bytes of an instruction sequence. */
export type Code = number[];

export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const cat = (...parts: Code[]): Code => parts.flat();
/** A SIMD instruction: the 0xfd prefix and its LEB128 opcode. */
export const simd = (op: number): Code => [0xfd, ...uleb(op)];

// ---- locals and constants ----
export const get = (l: number): Code => [0x20, ...uleb(l)];
export const set = (l: number, v: Code): Code => [...v, 0x21, ...uleb(l)];
export const tee = (l: number, v: Code): Code => [...v, 0x22, ...uleb(l)];
export const i32c = (n: number): Code => [0x41, ...sleb(n)];
export function f32c(x: number): Code {
  const b = new Uint8Array(new Float32Array([x]).buffer);
  return [0x43, ...b];
}
export function f64c(x: number): Code {
  return [0x44, ...new Uint8Array(new Float64Array([x]).buffer)];
}
export const drop = (v: Code): Code => [...v, 0x1a];

// ---- i32 ----
const bin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, op];
export const i32 = {
  add: bin(0x6a),
  sub: bin(0x6b),
  mul: bin(0x6c),
  divS: bin(0x6d),
  remS: bin(0x6f),
  and: bin(0x71),
  shl: bin(0x74),
  eq: bin(0x46),
  ne: bin(0x47),
  ltS: bin(0x48),
  ltU: bin(0x49),
  gtS: bin(0x4a),
  leS: bin(0x4c),
  geS: bin(0x4e),
  geU: bin(0x4f),
  eqz: (a: Code): Code => [...a, 0x45],
};

// ---- f32 / f64 scalars ----
export const f32 = {
  add: bin(0x92),
  sub: bin(0x93),
  mul: bin(0x94),
  div: bin(0x95),
  min: bin(0x96),
  max: bin(0x97),
  sqrt: (a: Code): Code => [...a, 0x91],
  gt: bin(0x5e),
  le: bin(0x5f),
  promote: (a: Code): Code => [...a, 0xbb],
};
export const f64 = {
  add: bin(0xa0),
  sub: bin(0xa1),
  mul: bin(0xa2),
  demote: (a: Code): Code => [...a, 0xb6],
};

// ---- memory (addresses are byte offsets into the imported memory) ----
/** A load/store's memory immediate: log2 of the alignment, then the byte offset (LEB128). */
export const memarg = (align: number, offset: number): number[] => [align, ...uleb(offset)];
export const loadI32 = (addr: Code, offset = 0): Code => [...addr, 0x28, ...memarg(2, offset)];
export const loadF32 = (addr: Code, offset = 0): Code => [...addr, 0x2a, ...memarg(2, offset)];
export const storeF32 = (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x38, ...memarg(2, offset)];
export const loadF64 = (addr: Code, offset = 0): Code => [...addr, 0x2b, ...memarg(3, offset)];
export const storeF64 = (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x39, ...memarg(3, offset)];
export const load128 = (addr: Code, offset = 0): Code => [...addr, ...simd(0x00), ...memarg(2, offset)];
export const store128 = (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, ...simd(0x0b), ...memarg(2, offset)];
/** v128.load32_splat: the float at addr in all four lanes. */
export const load32Splat = (addr: Code, offset = 0): Code => [...addr, ...simd(0x09), ...memarg(2, offset)];

// ---- v128 ----
export const vbin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
export const vun = (op: number) => (a: Code): Code => [...a, ...simd(op)];
export const f32x4 = {
  splat: vun(0x13),
  extractLane: (a: Code, lane: number): Code => [...a, ...simd(0x1f), lane],
  gt: vbin(0x44),
  le: vbin(0x45),
  add: vbin(0xe4),
  sub: vbin(0xe5),
  mul: vbin(0xe6),
  div: vbin(0xe7),
  sqrt: vun(0xe3),
  min: vbin(0xe8),
  max: vbin(0xe9),
  /** The two low lanes as f64x2. */
  promoteLow: vun(0x5f),
  /** An f64x2 rounded to float32 in the two low lanes (the others 0). */
  demoteZero: vun(0x5e),
};
export const f64x2 = {
  add: vbin(0xf0),
  mul: vbin(0xf2),
  splat: vun(0x14),
};
/** i8x16.shuffle of a and b by float lanes (0–3: a, 4–7: b). */
function shuffle32(a: Code, b: Code, lanes: readonly [number, number, number, number]): Code {
  const bytes = lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  return [...a, ...b, ...simd(0x0d), ...bytes];
}
export const v128 = {
  shuffle32,
  and: vbin(0x4e),
  zero: (): Code => [...simd(0x0c), ...new Array<number>(16).fill(0)],
  /** Lanes 2, 3 of `a` moved to lanes 0, 1 (i8x16.shuffle). */
  highToLow: (a: Code): Code => [...a, ...a, ...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
};

// ---- control ----
const EMPTY = 0x40;
/** `if (cond) { then }` */
export const ifThen = (cond: Code, ...body: Code[]): Code => cat(cond, [0x04, EMPTY], ...body, [0x0b]);
/** `if (cond) { a } else { b }` */
export const ifElse = (cond: Code, a: Code[], b: Code[]): Code => cat(cond, [0x04, EMPTY], ...a, [0x05], ...b, [0x0b]);

/**
 * `for (i = start; i < end; i += step) body` with `end` re-evaluated each time (keep it a local or a
 * constant). `unsigned` compares as unsigned (use it for byte addresses, which may exceed 2³¹).
 */
export function forLoop(i: number, start: Code, end: Code, step: number | Code, body: Code[], unsigned = false): Code {
  const stepCode = typeof step === 'number' ? i32c(step) : step;
  return cat(
    set(i, start),
    [0x02, EMPTY, 0x03, EMPTY],
    get(i),
    end,
    [unsigned ? 0x4f : 0x4e, 0x0d, 1], // i32.ge_(u|s); br_if 1 (out of the block)
    ...body,
    set(i, i32.add(get(i), stepCode)),
    [0x0c, 0, 0x0b, 0x0b], // br 0 (loop); end loop; end block
  );
}

/** One exported function under construction. */
export class Func {
  readonly locals: ValType[] = [];
  readonly body: Code[] = [];

  constructor(
    readonly name: string,
    readonly params: readonly ValType[],
  ) {}

  /** Index of parameter `i`. */
  param(i: number): number {
    if (i < 0 || i >= this.params.length) throw new Error(`${this.name}: no parameter ${i}`);
    return i;
  }

  /** A new local of type `t`; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  emit(...code: Code[]): this {
    this.body.push(...code);
    return this;
  }
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const utf8 = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s, 'utf8')];

/**
 * A module of `fns` (no results) importing its memory as env.memory: a plain memory, or a shared
 * one (threaded wasm builds; its maximum must then be declared, 65536 pages = 4 GiB).
 */
export function buildModule(fns: readonly Func[], sharedMemory = false): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [TYPE_CODE[p]])), 0x00]);
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = [[...utf8('env'), ...utf8('memory'), 0x02, ...limits]];
  const funcs = fns.map((_, i) => uleb(i));
  const exports = fns.map((f, i) => [...utf8(f.name), 0x00, ...uleb(i)]);
  const bodies = fns.map((f) => {
    const groups: number[][] = [];
    for (const t of f.locals) groups.push([...uleb(1), TYPE_CODE[t]]);
    const code = [...vec(groups), ...f.body.flat(), 0x0b];
    return [...uleb(code.length), ...code];
  });
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ];
  return Uint8Array.from(bytes);
}
