/**
 * Loss benchmark: milliseconds of forward + backward (value and d loss / d logits) of each loss,
 * median of --reps runs after --warmup runs (wall clock, and this process's CPU time, which a
 * busy shared machine disturbs less), on one backend (wasm by default), for the shapes:
 *
 *   2×256×256     every loss (C = 21 for the softmax family, C = 1 for bce/dice/hinge)
 *   8×512×512×21  softmax_loss, lovasz_softmax_loss
 *   24×769×769×1  bce_loss, dice_loss, lovasz_hinge_loss
 *
 * and, for comparison, forward + backward of the model the shipped configs train
 * (configs/lovasz_softmax_voc.yaml for the softmax family, configs/lovasz_hinge_road.yaml for the
 * binary losses: DeepLabv3+ code path with MobileNetV2, ASPP and decoder off, as pdseg's Lovász
 * configs), and the ratio loss / model. The batches above do not fit the 4 GB wasm heap as one
 * model step (backends.md: 512×512 batch 2 already fails), so the model is timed on one
 * --model-size² image and scaled linearly by the batch's pixel count ("est.").
 *
 *   node dist/bench/losses.js [--backend wasm|cpu] [--warmup 1] [--reps 5] [--only 2x256x256]
 *                             [--no-model] [--model-size 256] [--scenario random|trained|voc]
 *                             [--per-image]   (Lovász losses per image: SOLVER.LOVASZ.PER_IMAGE)
 *
 * Inputs: logits N(0, 2²); labels uniform over the classes ('random': every class present, the
 * worst case for Lovász-Softmax, which sorts once per present class); 'voc': background plus two
 * object classes per image, as rectangles (VOC images show 1-3 classes); 'trained': uniform
 * labels, with logits that agree with the labels on 90% of the pixels by a margin > 1, as late in
 * training. Binary labels are 5% foreground (MiniDeepGlobe roads: 4.5%); 3% of all pixels are
 * ignored (255).
 * Never run by the tests. Run it alone: two processes on two cores disturb each other's numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendChoice } from '../src/backend/index.js';
import { registerTrainingKernels } from '../src/backend/kernels/index.js';
import { LOSSES, type LossName } from '../src/losses/registry.js';
import { resolveConfig } from '../src/config/resolve.js';
import { Rng } from '../src/util/rng.js';

interface Args {
  backend: BackendChoice;
  warmup: number;
  reps: number;
  only: string | undefined;
  model: boolean;
  modelSize: number;
  scenario: 'random' | 'trained' | 'voc';
  perImage: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (name: string, dflt: number): number => {
    const v = get(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  const scenario = get('scenario') ?? 'random';
  if (scenario !== 'random' && scenario !== 'trained' && scenario !== 'voc') throw new Error(`--scenario must be random, trained or voc, got ${scenario}`);
  return {
    backend: (get('backend') ?? 'wasm') as BackendChoice,
    warmup: int('warmup', 1),
    reps: Math.max(1, int('reps', 5)),
    only: get('only'),
    model: !argv.includes('--no-model'),
    modelSize: int('model-size', 256),
    scenario,
    perImage: argv.includes('--per-image'),
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Logits and labels of one shape, as typed arrays (made once per shape). */
function makeInputs(s: Shape, scenario: Args['scenario'], seed: number): { logits: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const P = s.N * s.H * s.W;
  const labels = new Int32Array(P);
  const logits = new Float32Array(P * s.C);
  // 'voc' labels: background (class 0) with two object classes per image, as rectangles.
  const boxes = Array.from({ length: s.N }, () =>
    Array.from({ length: 2 }, () => {
      const w = rng.int(s.W >> 3, s.W >> 1);
      const h = rng.int(s.H >> 3, s.H >> 1);
      const x0 = rng.int(0, s.W - w);
      const y0 = rng.int(0, s.H - h);
      return { c: rng.int(1, Math.max(1, s.C - 1)), x0, y0, x1: x0 + w, y1: y0 + h };
    }),
  );
  for (let j = 0; j < P; j++) {
    let y: number;
    if (rng.random() < 0.03) y = 255;
    else if (s.C === 1) y = rng.random() < 0.05 ? 1 : 0;
    else if (scenario === 'voc') {
      const n = Math.floor(j / (s.H * s.W));
      const r = Math.floor((j % (s.H * s.W)) / s.W);
      const col = j % s.W;
      y = 0;
      for (const b of boxes[n] ?? []) if (r >= b.y0 && r < b.y1 && col >= b.x0 && col < b.x1) y = b.c;
    } else y = rng.int(0, s.C - 1);
    labels[j] = y;
    const agree = scenario === 'trained' && y !== 255 && rng.random() < 0.9;
    for (let c = 0; c < s.C; c++) {
      let z = 2 * rng.normal();
      if (agree) {
        // Late in training: the right class wins by a margin (> 1 for the one-channel hinge).
        if (s.C === 1) z = (y === 1 ? 1 : -1) * (1.5 + Math.abs(z));
        else if (c === y) z = 4 + Math.abs(z);
      }
      logits[j * s.C + c] = z;
    }
  }
  return { logits, labels };
}

/** Wall-clock and CPU milliseconds of one run of `f`. */
function timed(f: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

interface Timing {
  /** Median wall-clock ms. */
  wall: number;
  /** Median CPU ms of this process (less sensitive to other processes on a shared machine). */
  cpu: number;
}

function medians(ts: Array<{ wall: number; cpu: number }>): Timing {
  return { wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) };
}

/** Forward + backward of one loss: medians over reps after warm-ups. */
function timeLoss(name: LossName, logits: tf.Tensor4D, labels: tf.Tensor3D, a: Args): Timing {
  const fn = LOSSES[name].fn;
  const times: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < a.warmup + a.reps; r++) {
    let out: tf.Tensor[] = [];
    const t = timed(() => {
      // wasm and cpu run kernels synchronously: once valueAndGrad returns, the gradient exists.
      // Only the scalar is read back (the model's backward pass consumes the gradient in place).
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => fn(x, labels, { perImage: a.perImage }))(logits);
      value.dataSync();
      out = [value, grad];
    });
    tf.dispose(out);
    if (r >= a.warmup) times.push(t);
  }
  return medians(times);
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
async function modelMsPerImage(configFile: string, size: number, a: Args): Promise<Timing> {
  const { buildModel } = await import('../src/models/build.js');
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { config } = resolveConfig({ cfgFile: path.join(repo, 'configs', configFile), cwd: repo });
  const model = buildModel(config, { seed: 1 });
  const vars = model.trainableVariables();
  const rng = new Rng(7);
  const img = new Float32Array(size * size * 3).map(() => rng.normal());
  const x = tf.tensor4d(img, [1, size, size, 3]);
  const dy = tf.ones([1, size, size, model.headChannels]);
  const times: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < a.warmup + a.reps; r++) {
    let out: tf.Tensor[] = [];
    const t = timed(() => {
      // Backward from a given d loss / d logits (no loss at all): the model's own cost.
      const { value, grads } = tf.engine().gradients(() => model.apply(x, { training: true, seed: r }), vars, dy);
      grads.forEach((g) => g.dataSync());
      out = [value, ...grads];
    });
    tf.dispose(out);
    if (r >= a.warmup) times.push(t);
  }
  tf.dispose([x, dy]);
  model.dispose();
  return medians(times);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const info = await initBackend({ backend: a.backend });
  if (info.name === 'wasm' || info.name === 'cpu') await registerTrainingKernels(info.name);
  console.log(`# seg loss benchmark: ${info.description}; inputs '${a.scenario}'${a.perImage ? '; Lovász per image' : ''}; median of ${a.reps} after ${a.warmup} warm-up(s); node ${process.version}`);

  const modelPerPixel = new Map<string, Timing>();
  const rows: string[][] = [['shape', 'C', 'loss', 'wall ms', 'cpu ms', 'model wall ms', 'model cpu ms', 'loss/model (wall)', 'loss/model (cpu)']];
  for (const [k, s] of SHAPES.entries()) {
    if (a.only !== undefined && a.only !== s.label) continue;
    const { logits: lg, labels: lb } = makeInputs(s, a.scenario, 1000 + k);
    const logits = tf.tensor4d(lg, [s.N, s.H, s.W, s.C], 'float32');
    const labels = tf.tensor3d(lb, [s.N, s.H, s.W], 'int32');
    let model: Timing | undefined;
    if (a.model) {
      if (!modelPerPixel.has(s.config)) {
        const t = await modelMsPerImage(s.config, a.modelSize, a);
        const px = a.modelSize * a.modelSize;
        modelPerPixel.set(s.config, { wall: t.wall / px, cpu: t.cpu / px });
        console.log(`# model of configs/${s.config}: ${t.wall.toFixed(0)} ms wall, ${t.cpu.toFixed(0)} ms cpu, fwd+bwd of 1×${a.modelSize}×${a.modelSize}`);
      }
      const per = modelPerPixel.get(s.config) as Timing;
      const px = s.N * s.H * s.W;
      model = { wall: per.wall * px, cpu: per.cpu * px };
    }
    for (const name of s.losses) {
      const t = timeLoss(name, logits, labels, a);
      const est = model !== undefined && !(s.N === 1 && s.H === a.modelSize && s.W === a.modelSize) ? ' (est.)' : '';
      rows.push([
        s.label,
        String(s.C),
        name,
        t.wall.toFixed(1),
        t.cpu.toFixed(1),
        model === undefined ? '-' : `${model.wall.toFixed(0)}${est}`,
        model === undefined ? '-' : `${model.cpu.toFixed(0)}${est}`,
        model === undefined ? '-' : `${((100 * t.wall) / model.wall).toFixed(2)}%`,
        model === undefined ? '-' : `${((100 * t.cpu) / model.cpu).toFixed(2)}%`,
      ]);
      console.log(`#   ${s.label}×${s.C} ${name}: ${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms cpu   (tensors alive: ${tf.memory().numTensors})`);
    }
    tf.dispose([logits, labels]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j >= 3 ? c.padStart(widths[j] as number) : c.padEnd(widths[j] as number))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
