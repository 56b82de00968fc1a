/**
 * Loss benchmark: milliseconds of forward + backward (value and d loss / d logits) of each loss,
 * median of --reps runs after --warmup runs (wall clock, and this process's CPU time, which a
 * busy shared machine disturbs less), on one backend (wasm by default), for the issue's shapes:
 *
 *   2×256×256     every loss (C = 21 for the softmax family, C = 1 for bce/dice/hinge)
 *   8×512×512×21  softmax_loss, lovasz_softmax_loss
 *   24×769×769×1  bce_loss, dice_loss, lovasz_hinge_loss
 *
 * and, for comparison, forward + backward of the model on the same batch, and the ratio
 * loss / model, for two models:
 *
 *   light  the shipped configs' model (configs/lovasz_softmax_voc.yaml for the softmax family,
 *          configs/lovasz_hinge_road.yaml for the binary losses: MobileNetV2 with ASPP and decoder
 *          off, as pdseg's Lovász configs)
 *   full   the same configs with ASPP and decoder on: the DeepLabv3+ that `npm run bench` times
 *
 * These batches do not fit the 4 GB wasm heap as one model step, so the model is timed on ONE
 * image of the shape's size and multiplied by the batch size ("×N").
 *
 *   node dist/bench/losses.js [--backend wasm|cpu] [--threads auto|n] [--warmup 1] [--reps 5]
 *                             [--only 8x512x512] [--losses lovasz_softmax_loss,...]
 *                             [--model light|full|both|none] [--model-reps 3] [--no-model]
 *                             [--scenario random|trained|voc] [--per-image] [--js] [--stages]
 *
 * --js       the losses' JavaScript path even where seg registers a kernel (SegLovaszSoftmax on
 *            wasm): the "before" of that kernel.
 * --stages   CPU ms per stage of SegLovaszSoftmax (src/backend/kernels/lovasz.ts), per call.
 * --threads  wasm threads (as `seg train --threads`; default auto = one per core). The model uses
 *            them; the losses run on the main thread.
 *
 * Inputs: see loss_inputs.ts. Never run by the tests. Run it alone: two processes on two cores
 * disturb each other's numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendChoice } from '../src/backend/index.js';
import { registerTrainingKernels } from '../src/backend/kernels/index.js';
import { LOVASZ_SOFTMAX_KERNEL, lovaszKernelProfile } from '../src/backend/kernels/lovasz.js';
import { LOSSES, type LossName } from '../src/losses/registry.js';
import { resolveConfig } from '../src/config/resolve.js';
import { Rng } from '../src/util/rng.js';
import { flagReader } from './cli.js';
import { makeLossInputs, median, medians, type Scenario, SCENARIOS, timed, type Timing } from './loss_inputs.js';

type ModelKind = 'light' | 'full';

interface Args {
  backend: BackendChoice;
  threads: number | 'auto';
  warmup: number;
  reps: number;
  modelReps: number;
  only: string | undefined;
  losses: string[] | undefined;
  models: ModelKind[];
  scenario: Scenario;
  perImage: boolean;
  js: boolean;
  stages: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const { get, int } = flagReader(argv);
  const scenario = (get('scenario') ?? 'random') as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}, got ${scenario}`);
  const model = argv.includes('--no-model') ? 'none' : (get('model') ?? 'both');
  const models: ModelKind[] = model === 'both' ? ['light', 'full'] : model === 'none' ? [] : model === 'light' || model === 'full' ? [model] : [];
  if (!['both', 'none', 'light', 'full'].includes(model)) throw new Error(`--model must be light, full, both or none, got ${model}`);
  const threads = get('threads') ?? 'auto';
  return {
    backend: (get('backend') ?? 'wasm') as BackendChoice,
    threads: threads === 'auto' ? 'auto' : Number(threads),
    warmup: int('warmup', 1),
    reps: Math.max(1, int('reps', 5)),
    modelReps: Math.max(1, int('model-reps', 3)),
    only: get('only'),
    losses: get('losses')?.split(','),
    models,
    scenario,
    perImage: argv.includes('--per-image'),
    js: argv.includes('--js'),
    stages: argv.includes('--stages'),
  };
}

interface Shape {
  label: string;
  N: number;
  H: number;
  W: number;
  C: number;
  losses: LossName[];
  /** The shipped config whose model the losses are compared with. */
  config: string;
}

const SOFTMAX_FAMILY: LossName[] = ['softmax_loss', 'lovasz_softmax_loss'];
const BINARY_FAMILY: LossName[] = ['bce_loss', 'dice_loss', 'lovasz_hinge_loss'];
const VOC = 'lovasz_softmax_voc.yaml';
const ROAD = 'lovasz_hinge_road.yaml';

const SHAPES: Shape[] = [
  { label: '2x256x256', N: 2, H: 256, W: 256, C: 21, losses: SOFTMAX_FAMILY, config: VOC },
  { label: '2x256x256', N: 2, H: 256, W: 256, C: 1, losses: BINARY_FAMILY, config: ROAD },
  { label: '8x512x512', N: 8, H: 512, W: 512, C: 21, losses: SOFTMAX_FAMILY, config: VOC },
  { label: '24x769x769', N: 24, H: 769, W: 769, C: 1, losses: BINARY_FAMILY, config: ROAD },
];

/** Forward + backward of one loss: medians over reps after warm-ups (and the kernel's stage times). */
function timeLoss(name: LossName, logits: tf.Tensor4D, labels: tf.Tensor3D, a: Args): { t: Timing; stages?: Record<string, number> } {
  const fn = LOSSES[name].fn;
  const times: Array<{ wall: number; cpu: number }> = [];
  const stages: Record<string, number[]> = {};
  for (let r = 0; r < a.warmup + a.reps; r++) {
    let out: tf.Tensor[] = [];
    lovaszKernelProfile.ms = {};
    lovaszKernelProfile.sorted = 0;
    const t = timed(() => {
      // wasm and cpu run kernels synchronously: once valueAndGrad returns, the gradient exists.
      // Only the scalar is read back (the model's backward pass consumes the gradient in place).
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => fn(x, labels, { perImage: a.perImage }))(logits);
      value.dataSync();
      out = [value, grad];
    });
    tf.dispose(out);
    if (r >= a.warmup) {
      times.push(t);
      for (const [k, v] of Object.entries(lovaszKernelProfile.ms)) (stages[k] ??= []).push(v);
      if (lovaszKernelProfile.sorted > 0) (stages['entries sorted (M)'] ??= []).push(lovaszKernelProfile.sorted / 1e6);
    }
  }
  const st = Object.keys(stages).length > 0 ? Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)])) : undefined;
  return st ? { t: medians(times), stages: st } : { t: medians(times) };
}

/**
 * Forward + backward of the model for ONE image of `size`², with its weights' gradients, from a
 * given d loss / d logits (no loss, so that only the model is timed).
 *
 * ---------------------------------------------------------------------------------------------
 * MODEL HOOK for the lead: this is the only place that knows the model. It builds the model of a
 * shipped config with src/models/build.ts's buildModel; if the model API changes, adapt here.
 * ---------------------------------------------------------------------------------------------
 */
async function modelMsPerImage(configFile: string, kind: ModelKind, size: number, a: Args): Promise<Timing> {
  const { buildModel } = await import('../src/models/build.js');
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const overrides = kind === 'full' ? ['MODEL.DEEPLAB.ENCODER_WITH_ASPP', 'True', 'MODEL.DEEPLAB.ENABLE_DECODER', 'True'] : [];
  const { config } = resolveConfig({ cfgFile: path.join(repo, 'configs', configFile), cwd: repo, overrides });
  const model = buildModel(config, { seed: 1 });
  const vars = model.trainableVariables();
  const rng = new Rng(7);
  const img = new Float32Array(size * size * 3).map(() => rng.normal());
  const x = tf.tensor4d(img, [1, size, size, 3]);
  const dy = tf.ones([1, size, size, model.headChannels]);
  const times: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < 1 + a.modelReps; r++) {
    let out: tf.Tensor[] = [];
    const t = timed(() => {
      // Backward from a given d loss / d logits (no loss at all): the model's own cost.
      const { value, grads } = tf.engine().gradients(() => model.apply(x, { training: true, seed: r }), vars, dy);
      grads.forEach((g) => g.dataSync());
      out = [value, ...grads];
    });
    tf.dispose(out);
    if (r >= 1) times.push(t);
  }
  tf.dispose([x, dy]);
  model.dispose();
  return medians(times);
}

const pct = (x: number, of: number): string => `${((100 * x) / of).toFixed(1)}%`;

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const info = await initBackend({ backend: a.backend, threads: a.threads });
  if (info.name === 'wasm' || info.name === 'cpu') await registerTrainingKernels(info.name);
  const kernel = tf.getKernel(LOVASZ_SOFTMAX_KERNEL, tf.getBackend());
  if (a.js && kernel) tf.unregisterKernel(LOVASZ_SOFTMAX_KERNEL, tf.getBackend());
  lovaszKernelProfile.enabled = a.stages;
  const lovaszPath = tf.getKernel(LOVASZ_SOFTMAX_KERNEL, tf.getBackend()) ? `kernel ${LOVASZ_SOFTMAX_KERNEL}` : 'JavaScript path';
  const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  console.log(`# seg loss benchmark: ${info.description}; Lovász-Softmax: ${lovaszPath}; inputs '${a.scenario}'${a.perImage ? '; Lovász per image' : ''}; median of ${a.reps} after ${a.warmup} warm-up(s); node ${process.version}; load average ${load}`);

  const head = ['shape', 'C', 'loss', 'wall ms', 'cpu ms'];
  for (const m of a.models) head.push(`${m} model wall ms`, `${m} model cpu ms`, `loss/${m} (wall)`, `loss/${m} (cpu)`);
  const rows: string[][] = [head];
  const stageLines: string[] = [];
  for (const [k, s] of SHAPES.entries()) {
    if (a.only !== undefined && a.only !== s.label) continue;
    const losses = s.losses.filter((l) => a.losses === undefined || a.losses.includes(l));
    if (losses.length === 0) continue;
    const models = new Map<ModelKind, Timing>();
    for (const m of a.models) {
      const t = await modelMsPerImage(s.config, m, s.H, a);
      models.set(m, { wall: t.wall * s.N, cpu: t.cpu * s.N });
      console.log(`# ${m} model of configs/${s.config}: ${t.wall.toFixed(0)} ms wall, ${t.cpu.toFixed(0)} ms cpu, fwd+bwd of 1×${s.H}×${s.W} (×${s.N} below)`);
    }
    const { logits: lg, labels: lb } = makeLossInputs(s.N, s.H, s.W, s.C, a.scenario, 1000 + k);
    const logits = tf.tensor4d(lg, [s.N, s.H, s.W, s.C], 'float32');
    const labels = tf.tensor3d(lb, [s.N, s.H, s.W], 'int32');
    for (const name of losses) {
      const { t, stages } = timeLoss(name, logits, labels, a);
      const row = [s.label, String(s.C), name, t.wall.toFixed(1), t.cpu.toFixed(1)];
      for (const m of a.models) {
        const mt = models.get(m) as Timing;
        row.push(`${mt.wall.toFixed(0)} (×${s.N})`, `${mt.cpu.toFixed(0)} (×${s.N})`, pct(t.wall, mt.wall), pct(t.cpu, mt.cpu));
      }
      rows.push(row);
      console.log(`#   ${s.label}×${s.C} ${name}: ${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms cpu   (tensors alive: ${tf.memory().numTensors})`);
      if (stages) stageLines.push(`${s.label}×${s.C} ${name}: ${Object.entries(stages).map(([st, v]) => `${st} ${v.toFixed(st.endsWith('(M)') ? 1 : 0)}`).join(', ')}`);
    }
    tf.dispose([logits, labels]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j >= 3 ? c.padStart(widths[j] as number) : c.padEnd(widths[j] as number))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  if (stageLines.length > 0) {
    console.log(`${LOVASZ_SOFTMAX_KERNEL} stages (median CPU ms per call):`);
    for (const l of stageLines) console.log(`  ${l}`);
  }
  console.log(`# load average after: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
