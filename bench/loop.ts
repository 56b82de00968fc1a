/**
 * What users wait for, in their own processes: `seg train`'s steady-state step (the real loop:
 * loader, loss assembly, optimiser, logging, metrics) and `seg eval`'s images per second, for the
 * model and batch of the bare step (step.ts: DeepLabv3+/MobileNetV2 ×1.0, softmax, Adam), on
 * generated JPEG/PNG data at the crop size. Prints one `RESULT {json}` line.
 *
 *   node dist/bench/loop.js --backend wasm --size 256 [--batch 2] [--warmup 3] [--reps 8] [--classes 2] [--eval-batches 8]
 *
 * train: `seg train --log_steps 1` over two epochs with a snapshot after each (pdseg's default
 *        SNAPSHOT_EPOCH 1); the step time is the median of the differences of successive
 *        `elapsed_s` in metrics.jsonl after `warmup` steps, and the epoch overhead (snapshot save,
 *        loader restart) what the first step of epoch 2 takes beyond that median.
 * eval:  `seg eval --json` on `eval-batches` full evaluation batches (evalBatchSize: a user's val
 *        list is long enough that its first batches' warm-up fades): images / seconds as evaluate()
 *        reports them (model loading excluded).
 * Run by bench.ts; never by the tests.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage, writeLabelPng } from '../src/data/image_io.js';
import { evalBatchSize } from '../src/data/loader.js';
import { ConfigSchema } from '../src/config/schema.js';
import { readMetrics, type TrainRecord } from '../src/train/metrics_log.js';
import { flagReader, printResult, runChild } from './cli.js';
import { median } from './loss_inputs.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SEG = path.join(REPO, 'bin', 'seg');

export interface LoopResult {
  backend: string;
  size: number;
  batch: number;
  /** Median ms per step of seg train's loop after warm-up, epoch boundary excluded. */
  trainMs: number;
  trainTimes: number[];
  /** ms the step after the epoch boundary takes beyond the median: the snapshot and the loader's restart. */
  epochOverheadMs: number;
  /** seg eval: images per second at the crop size, and the batch it ran at. */
  evalImagesPerSec: number;
  evalImages: number;
}

async function makeData(dir: string, n: number, size: number, classes: number): Promise<string> {
  let state = 777;
  const rnd = (): number => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    const rgb = Uint8Array.from({ length: size * size * 3 }, () => Math.floor(rnd() * 256));
    const label = Uint8Array.from({ length: size * size }, () => Math.min(classes - 1, Math.floor(rnd() * classes)));
    await writeImage(path.join(dir, `${k}.jpg`), { data: rgb, width: size, height: size, channels: 3 });
    await writeLabelPng(path.join(dir, `${k}.png`), label, size, size);
    lines.push(`${k}.jpg|${k}.png`);
  }
  const list = path.join(dir, 'list.txt');
  fs.writeFileSync(list, `${lines.join('\n')}\n`);
  return list;
}

function seg(args: string[]): string {
  const r = spawnSync(process.execPath, [SEG, ...args], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, CI: 'true' } });
  if (r.status !== 0) throw new Error(`seg ${args[0]} exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const { get, int } = flagReader(process.argv.slice(2));
  const backend = get('backend') ?? 'wasm';
  const threads = get('threads');
  const size = int('size', 256);
  const batch = int('batch', 2);
  const warmup = int('warmup', 3);
  const reps = int('reps', 8);
  const classes = int('classes', 2);
  const evalImages = int('eval-batches', 8) * evalBatchSize(ConfigSchema.parse({ BATCH_SIZE: batch, TRAIN_CROP_SIZE: [size, size], EVAL_CROP_SIZE: [size, size] }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-bench-loop-'));
  try {
    const perEpoch = Math.ceil((warmup + reps + 2) / 2);
    const trainList = await makeData(path.join(dir, 'train'), perEpoch * batch, size, classes);
    const valList = await makeData(path.join(dir, 'val'), evalImages, size, classes);
    const crop = `(${size}, ${size})`;
    const cfg = path.join(dir, 'bench.yaml');
    fs.writeFileSync(cfg, 'MODEL:\n  DEEPLAB:\n    BACKBONE: mobilenetv2\n');
    const common = [
      '--cfg', cfg, '--backend', backend, ...(threads ? ['--threads', threads] : []),
      'DATASET.DATA_DIR', path.dirname(trainList), 'DATASET.SEPARATOR', '|', 'DATASET.NUM_CLASSES', String(classes),
      'DATASET.TRAIN_FILE_LIST', trainList, 'DATASET.VAL_FILE_LIST', valList, 'DATASET.TEST_FILE_LIST', valList,
      'TRAIN_CROP_SIZE', crop, 'EVAL_CROP_SIZE', crop, 'AUG.AUG_METHOD', 'unpadding', 'AUG.FIX_RESIZE_SIZE', crop,
      'BATCH_SIZE', String(batch), 'MODEL.DEEPLAB.BACKBONE', 'mobilenetv2', 'SOLVER.OPTIMIZER', 'adam', 'SOLVER.LR', '0.001',
      'TRAIN.MODEL_SAVE_DIR', path.join(dir, 'run'), 'TEST.TEST_MODEL', path.join(dir, 'run', 'final'),
    ];
    seg(['train', '--log_steps', '1', '--quiet', ...common, 'SOLVER.NUM_EPOCHS', '2']);
    const records = readMetrics(path.join(dir, 'run')).filter((r): r is TrainRecord => r.type === 'train');
    const elapsed = records.map((r) => r.elapsed_s * 1000);
    const deltas = records.map((r, i) => ({ ms: i === 0 ? 0 : (elapsed[i] as number) - (elapsed[i - 1] as number), boundary: i > 0 && r.epoch !== records[i - 1]?.epoch }));
    const times = deltas.slice(warmup + 1).filter((d) => !d.boundary).map((d) => d.ms);
    const boundary = deltas.find((d) => d.boundary)?.ms ?? Number.NaN;
    // DATA_DIR of the val list is its own folder.
    const evalArgs = common.map((v, i) => (common[i - 1] === 'DATASET.DATA_DIR' ? path.dirname(valList) : v));
    const e = JSON.parse(seg(['eval', '--json', '--quiet', ...evalArgs])) as { images: number; seconds: number };
    const result: LoopResult = { backend, size, batch, trainMs: median(times), trainTimes: times, epochOverheadMs: boundary - median(times), evalImagesPerSec: e.images / e.seconds, evalImages: e.images };
    printResult(result);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runChild(main);
