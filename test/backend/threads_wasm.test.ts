/**
 * The opt-in threaded wasm build (wasm/threads.ts): it starts in Node with two pthreads, seg's
 * SIMD kernels run on its shared heap, and seg's kernels still equal the stock cpu kernels there.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { registerTrainingKernels } from '../../src/backend/kernels/index.js';
import { hostFor } from '../../src/backend/kernels/host.js';
import { poolSettings, poolStats, runParts } from '../../src/backend/kernels/wasm/pool.js';
import { simdFor } from '../../src/backend/kernels/wasm/runtime.js';
import { useThreadedWasm, wasmThreads } from '../../src/backend/kernels/wasm/threads.js';
import { DENSE_CASES, DEPTHWISE_CASES, RESIZE_CASES } from './cases.js';
import { checkConv, checkResize } from './checks.js';

before(async () => {
  useThreadedWasm(2);
  await initBackend({ backend: 'wasm' });
  await registerTrainingKernels('wasm');
  tf.engine().findBackend('cpu');
});

after(() => {
  // the pthread workers keep the event loop alive; end them so that the test process exits
  (tf.backend() as unknown as { dispose(): void }).dispose();
});

test('threaded build: 2 threads, shared heap, SIMD kernels instantiated on it', () => {
  assert.equal(wasmThreads(), 2);
  const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
  assert.ok(heap.buffer instanceof SharedArrayBuffer);
  assert.ok(simdFor(hostFor(tf.backend())));
});

test('threaded build: conv, depthwise and resize kernels equal stock cpu', () => {
  for (const c of DENSE_CASES) {
    const e = checkConv('wasm', c, false);
    assert.ok(Math.max(e.dW, e.dX, e.adjointW, e.adjointX) <= 1e-4, `${c.name}: ${JSON.stringify(e)}`);
  }
  for (const c of DEPTHWISE_CASES) {
    const e = checkConv('wasm', c, true);
    assert.ok(Math.max(e.dW, e.dX, e.adjointW, e.adjointX) <= 1e-4, `${c.name}: ${JSON.stringify(e)}`);
  }
  for (const c of RESIZE_CASES) {
    const e = checkResize('wasm', c);
    assert.ok(e.grad <= 1e-4 && e.adjoint <= 1e-4, `${c.name}: ${JSON.stringify(e)}`);
  }
});

test('threaded build: a matMul large enough to be split across threads is right', () => {
  const a = tf.randomNormal([300, 200], 0, 1, 'float32', 1);
  const b = tf.randomNormal([200, 150], 0, 1, 'float32', 2);
  const mine = tf.matMul(a, b).dataSync();
  const av = a.dataSync();
  const bv = b.dataSync();
  let worst = 0;
  for (const [i, j] of [[0, 0], [299, 149], [123, 77], [17, 140]] as const) {
    let s = 0;
    for (let k = 0; k < 200; k++) s += av[i * 200 + k]! * bv[k * 150 + j]!;
    worst = Math.max(worst, Math.abs(s - mine[i * 150 + j]!));
  }
  assert.ok(worst < 1e-3, `max error ${worst}`);
  tf.dispose([a, b]);
});

test('threaded build: the filter-gradient GEMM runs its column parts on the helper thread too, with the same bits', async () => {
  const x = tf.randomNormal([1, 24, 25, 70], 0, 1, 'float32', 3);
  const dy = tf.randomNormal([1, 24, 25, 37], 0, 1, 'float32', 4);
  const filterGrad = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'valid', filterShape: [1, 1, 70, 37] }) as tf.Tensor;
  poolSettings.enabled = false;
  const alone = filterGrad();
  poolSettings.enabled = true;
  // the helper starts with the first call and takes parts once it is ready
  const before = poolStats.helperParts;
  const deadline = Date.now() + 5000;
  let shared = filterGrad();
  while (poolStats.helperParts === before && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    shared.dispose();
    shared = filterGrad();
  }
  assert.ok(poolStats.helperParts > before, 'the helper ran no part within 5 s');
  assert.deepEqual(Array.from(shared.dataSync()), Array.from(alone.dataSync()));
  tf.dispose([x, dy, alone, shared]);
});

test('threaded build: a part that traps on the helper thread is run again on the kernel thread, which reports the error; the pool goes on', async () => {
  const h = hostFor(tf.backend());
  const k = simdFor(h)!;
  const x = tf.ones([64, 8]);
  const out = h.alloc([64]); // per part p: float64 sums [8] at 128·p bytes, float32 accumulators [8] at 128·p + 64
  const ptr = h.ptr(out);
  const sums = () => Array.from(new Float64Array(h.f32(out).buffer, ptr, 8));
  const part = (p: number, src: number) => ({ fn: 'colsum', args: [src, 32, 8, ptr + 128 * p + 64, ptr + 128 * p] });
  const good = () => [0, 1].map((p) => part(p, h.ptr(x) + 4 * 32 * 8 * p));
  runParts(h, k, good()); // starts the helper
  await new Promise((r) => setTimeout(r, 200));
  const memBytes = (h.wasmMemory() as { buffer: ArrayBufferLike }).buffer.byteLength;
  const bad = [0, 1].map((p) => part(p, memBytes - 4));
  assert.throws(() => runParts(h, k, bad), /out of bounds/);
  h.f32(out).fill(0);
  runParts(h, k, good());
  assert.deepEqual(sums(), new Array(8).fill(32), 'the pool computes again after the failure');
  h.dispose(out);
  x.dispose();
});

test('a program on the threaded build exits by itself (the pthread workers do not keep Node alive)', () => {
  const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test/backend
  const mod = (rel: string) => pathToFileURL(path.join(here, '..', '..', rel)).href;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-threads-'));
  const script = path.join(dir, 'main.mjs');
  fs.writeFileSync(
    script,
    [
      `import * as tf from '${pathToFileURL(path.join(here, '..', '..', '..', 'node_modules', '@tensorflow', 'tfjs-core', 'dist', 'tf-core.node.js')).href}';`,
      `import { useThreadedWasm, wasmThreads } from '${mod('src/backend/kernels/wasm/threads.js')}';`,
      `import { initBackend } from '${mod('src/backend/index.js')}';`,
      'useThreadedWasm(2);',
      "await initBackend({ backend: 'wasm' });",
      'const a = tf.ones([300, 300]);',
      'console.log(`threads ${wasmThreads()} sum ${tf.sum(tf.matMul(a, a)).dataSync()[0]}`);',
    ].join('\n'),
  );
  try {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /threads 2 sum 27000000/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
