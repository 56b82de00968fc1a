/**
 * One benchmark run in its own process: time seg's training step (seg_step.ts: forward, loss,
 * backward, Adam update) of DeepLabv3+/MobileNetV2 on one tfjs backend, and print one
 * `RESULT {json}` line.
 *
 *   node dist/bench/step.js --backend wasm --size 256 [--batch 2] [--micro 1] [--warmup 2] [--reps 5]
 *                           [--classes 2] [--loss "['softmax_loss']"] [--profile] [--ops default|reference|fused]
 *
 * --micro k    split the batch into k micro-batches whose gradients are summed before one update
 *              (SOLVER.ACCUMULATE_STEPS; for batches that do not fit the 4 GB wasm heap).
 * --profile    run one extra step under tf.profile and print the kernels by total time.
 * --threads n  (wasm) tfjs-backend-wasm's threaded build with n threads (wasm/threads.ts);
 *              (torch) libtorch's intra-op threads (default: one per core).
 * --ops        the op set the model runs on: what initBackend installed (default), src/ops's
 *              reference ops, or seg's fused kernels (src/backend/kernels/fast_ops.ts).
 *
 * Run by bench.ts; never by the tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendChoice, initBackend } from '../src/backend/index.js';
import { registerTrainingKernels } from '../src/backend/kernels/index.js';
import { installFusedOps } from '../src/backend/kernels/fast_ops.js';
import { useThreadedWasm, wasmThreads } from '../src/backend/kernels/wasm/threads.js';
import { loadTorchAddon } from '../src/backend/native/addon.js';
import { referenceOps, setOps } from '../src/ops/index.js';
import { flagReader, printResult, runChild } from './cli.js';
import { median } from './loss_inputs.js';
import { segBench } from './seg_step.js';

interface Args {
  backend: BackendChoice;
  size: number;
  batch: number;
  micro: number;
  warmup: number;
  reps: number;
  classes: number;
  loss: string | undefined;
  profile: boolean;
  ops: 'default' | 'reference' | 'fused';
  threads: number;
  /** Whether --threads was given (torch: else libtorch's default). */
  threadsGiven: boolean;
}

function parseArgs(argv: string[]): Args {
  const { get, int: num } = flagReader(argv);
  const backend = (get('backend') ?? 'wasm') as BackendChoice;
  const a: Args = {
    backend,
    size: num('size', 256),
    batch: num('batch', 2),
    micro: num('micro', 1),
    warmup: num('warmup', 2),
    reps: num('reps', 5),
    classes: num('classes', 2),
    loss: get('loss'),
    profile: argv.includes('--profile'),
    ops: (get('ops') ?? 'default') as Args['ops'],
    threads: num('threads', 1),
    threadsGiven: get('threads') !== undefined,
  };
  if (!['default', 'reference', 'fused'].includes(a.ops)) throw new Error(`--ops must be default, reference or fused, got ${a.ops}`);
  if (a.micro < 1 || a.batch % a.micro !== 0) throw new Error(`--micro ${a.micro} must divide --batch ${a.batch}`);
  return a;
}

/** libtorch's thread count (torch backend). */
const torchThreads = (): number => loadTorchAddon().addon?.numThreads() ?? 1;

const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

function wasmHeapMB(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8 ? b.wasm.HEAPU8.length / 2 ** 20 : undefined;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const torch = a.backend === 'torch';
  if (!torch && a.threads > 1) useThreadedWasm(a.threads);
  const info = await initBackend({ backend: a.backend, ...(torch && a.threadsGiven ? { threads: a.threads } : {}) });
  if (info.name === 'wasm' || info.name === 'cpu') await registerTrainingKernels(info.name);
  if (a.ops === 'fused') installFusedOps();
  if (a.ops === 'reference') setOps(referenceOps);
  const model = segBench({ classes: a.classes, size: a.size, batch: a.batch, micro: a.micro, ...(a.loss ? { loss: a.loss } : {}) });
  const step = model.step;
  const threads = info.name === 'wasm' ? wasmThreads() : info.name === 'torch' ? torchThreads() : 1;
  const description = info.name === 'wasm' && threads > 1 ? `wasm (WebAssembly SIMD, threaded build, ${threads} threads)` : info.description;
  console.log(`backend=${description} ops=${a.ops} model=${model.description} params=${model.params} size=${a.size} batch=${a.batch} micro=${a.micro}`);

  const times: number[] = [];
  const cpuTimes: number[] = [];
  let loss = NaN;
  for (let i = 0; i < a.warmup + a.reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    loss = step();
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000;
    if (i >= a.warmup) {
      times.push(dt);
      cpuTimes.push(cpu);
    }
    console.log(`${i < a.warmup ? 'warmup' : 'rep'} ${i} loss=${loss.toFixed(4)} ms=${dt.toFixed(0)} cpu_ms=${cpu.toFixed(0)} peakRSS_MB=${peakRssMB().toFixed(0)} tensors=${tf.memory().numTensors}`);
  }
  if (a.profile) {
    const prof = await tf.profile(() => {
      step();
    });
    const agg = new Map<string, { ms: number; calls: number }>();
    for (const k of prof.kernels) {
      const e = agg.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.calls++;
      agg.set(k.name, e);
    }
    const rows = [...agg.entries()].sort((p, q) => q[1].ms - p[1].ms);
    const total = rows.reduce((s, [, e]) => s + e.ms, 0);
    console.log(`PROFILE kernels=${prof.kernels.length} kernel_ms=${total.toFixed(0)}`);
    for (const [name, e] of rows.slice(0, 40)) console.log(`PROFILE ${name.padEnd(40)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(6)} calls`);
  }
  const result = {
    path: info.name === 'torch' ? 'seg-torch' : threads > 1 ? `${info.name}-threads${threads}` : info.name,
    description,
    threads,
    ops: a.ops,
    size: a.size,
    batch: a.batch,
    micro: a.micro,
    reps: a.reps,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    times: times.map((t) => Math.round(t)),
    /** CPU time of this process per step (all threads): less sensitive than wall time to other load. */
    medianCpuMs: median(cpuTimes),
    peakRssMB: Math.round(peakRssMB()),
    wasmHeapMB: wasmHeapMB(),
    params: model.params,
    model: model.description,
    lossName: a.loss ?? 'softmax_loss',
    loss,
  };
  printResult(result);
}

runChild(main);
