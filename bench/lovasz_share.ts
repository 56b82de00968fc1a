/**
 * The "Lovász share" of `npm run bench`, in its own process per (path, size), set up like the step
 * it is compared with (bench/step.ts): the same backend and threads, the step's batch and crop.
 * Times forward + backward (value and d loss / d logits) of
 *
 *   lovasz_hinge_loss    on a 1-channel head: logits [batch, size, size, 1], 5% foreground
 *   lovasz_softmax_loss  on a 21-class head:  logits [batch, size, size, 21], labels uniform over
 *                        the classes (every class present: the worst case), or --scenario
 *
 * (3% of the pixels ignored; loss_inputs.ts) and prints one `RESULT {json}` line with the medians.
 *
 *   node dist/bench/lovasz_share.js --backend wasm --size 256 [--batch 2] [--threads n]
 *                                   [--classes 21] [--warmup 5] [--reps 5] [--scenario random]
 *
 * Five warm-up runs by default: the steady state a training run sees (the first calls of a new
 * process grow its heaps and caches).
 *
 * Run by bench.ts; never by the tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendChoice, initBackend } from '../src/backend/index.js';
import { registerTrainingKernels } from '../src/backend/kernels/index.js';
import { useThreadedWasm } from '../src/backend/kernels/wasm/threads.js';
import { lovaszHingeLoss } from '../src/losses/lovasz_hinge_loss.js';
import { lovaszSoftmaxLoss } from '../src/losses/lovasz_softmax_loss.js';
import type { LossFn } from '../src/losses/types.js';
import { flagReader, printResult, runChild } from './cli.js';
import { makeLossInputs, medians, type Scenario, SCENARIOS, timed, type Timing } from './loss_inputs.js';

interface Args {
  backend: BackendChoice;
  size: number;
  batch: number;
  threads: number | undefined;
  classes: number;
  warmup: number;
  reps: number;
  scenario: Scenario;
}

function parseArgs(argv: readonly string[]): Args {
  const { get, int } = flagReader(argv);
  const scenario = (get('scenario') ?? 'random') as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  const threads = get('threads');
  return {
    backend: (get('backend') ?? 'wasm') as BackendChoice,
    size: int('size', 256),
    batch: int('batch', 2),
    threads: threads === undefined ? undefined : int('threads', 1),
    classes: int('classes', 21),
    warmup: int('warmup', 5),
    reps: Math.max(1, int('reps', 5)),
    scenario,
  };
}

function timeLoss(fn: LossFn, N: number, S: number, C: number, a: Args, seed: number): Timing {
  const { logits: lg, labels: lb } = makeLossInputs(N, S, S, C, a.scenario, seed);
  const logits = tf.tensor4d(lg, [N, S, S, C], 'float32');
  const labels = tf.tensor3d(lb, [N, S, S], 'int32');
  const times: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < a.warmup + a.reps; r++) {
    let out: tf.Tensor[] = [];
    const t = timed(() => {
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => fn(x, labels))(logits);
      value.dataSync();
      out = [value, grad];
    });
    tf.dispose(out);
    if (r >= a.warmup) times.push(t);
  }
  tf.dispose([logits, labels]);
  return medians(times);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  // as bench/step.ts: an explicit --threads n > 1 selects the threaded build, else the backend's default
  if (a.backend === 'wasm' && a.threads !== undefined && a.threads > 1) useThreadedWasm(a.threads);
  const info = await initBackend({ backend: a.backend, ...(a.threads !== undefined ? { threads: a.threads } : {}) });
  if (info.name === 'wasm' || info.name === 'cpu') await registerTrainingKernels(info.name);
  const hinge = timeLoss(lovaszHingeLoss, a.batch, a.size, 1, a, 11);
  const softmax = timeLoss(lovaszSoftmaxLoss, a.batch, a.size, a.classes, a, 12);
  const result = {
    backend: info.description,
    size: a.size,
    batch: a.batch,
    classes: a.classes,
    scenario: a.scenario,
    reps: a.reps,
    hingeMs: hinge.wall,
    hingeCpuMs: hinge.cpu,
    softmaxMs: softmax.wall,
    softmaxCpuMs: softmax.cpu,
  };
  printResult(result);
}

runChild(main);
