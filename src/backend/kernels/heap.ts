/**
 * HeapHost: a Host (host.ts) over a standalone WebAssembly.Memory, so that a kernel body written
 * for the wasm backend's heap (lovasz.ts) also serves a backend whose tensors are not on a wasm heap
 * (the native `torch` backend): the caller copies the inputs into heap tensors, runs the body, copies
 * the outputs out and resets the heap.
 *
 * Allocation is a bump pointer (16-byte aligned; address 0 is never handed out, since the generated
 * modules read pointer 0 as "none"). The memory grows on demand and is kept between calls (it
 * never shrinks); dispose() forgets a tensor, and its space is reused once every tensor is
 * disposed or at reset(). Growing detaches earlier views, as on the wasm backend: allocate first,
 * take views afterwards. It runs no kernels of its own (run() throws).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { type Host, sizeOf } from './host.js';

/** The parts of a WebAssembly.Memory used here (the project's lib has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const WA = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number }) => WasmMemory } }).WebAssembly;

const PAGE = 65536;
const ALIGN = 16;
const BASE = ALIGN;

export class HeapHost implements Host {
  readonly name = 'heap';
  readonly backend: object = this;
  readonly memory: WasmMemory = new WA.Memory({ initial: 1 });
  private top = BASE;
  private readonly areas = new Map<object, { offset: number; size: number }>();

  alloc(shape: number[]): TensorInfo {
    const t = this.allocUninit(shape);
    this.f32(t).fill(0);
    return t;
  }

  allocUninit(shape: number[], dtype: 'float32' | 'int32' = 'float32'): TensorInfo {
    const size = sizeOf(shape);
    const offset = this.top;
    this.top = Math.ceil((offset + 4 * size) / ALIGN) * ALIGN;
    const have = this.memory.buffer.byteLength;
    if (this.top > have) this.memory.grow(Math.ceil((this.top - have) / PAGE));
    const dataId = {};
    this.areas.set(dataId, { offset, size });
    return { dataId, shape: [...shape], dtype };
  }

  f32(t: TensorInfo): Float32Array {
    if (t.dtype !== 'float32') throw new Error(`seg kernels: expected a float32 tensor, got ${t.dtype}`);
    const a = this.area(t);
    return new Float32Array(this.memory.buffer, a.offset, a.size);
  }

  i32(t: TensorInfo): Int32Array {
    if (t.dtype !== 'int32') throw new Error(`seg kernels: expected an int32 tensor, got ${t.dtype}`);
    const a = this.area(t);
    return new Int32Array(this.memory.buffer, a.offset, a.size);
  }

  dispose(t: TensorInfo): void {
    this.areas.delete(t.dataId);
    if (this.areas.size === 0) this.top = BASE;
  }

  run(name: string): TensorInfo {
    throw new Error(`seg kernels: a HeapHost runs no backend kernels (asked for ${name})`);
  }

  ptr(t: TensorInfo): number {
    return this.area(t).offset;
  }

  wasmMemory(): unknown {
    return this.memory;
  }

  /** Forget every tensor (the memory stays, for the next call). */
  reset(): void {
    this.areas.clear();
    this.top = BASE;
  }

  private area(t: TensorInfo): { offset: number; size: number } {
    const a = this.areas.get(t.dataId);
    if (!a) throw new Error('seg kernels: tensor data not found on the heap');
    return a;
  }
}
