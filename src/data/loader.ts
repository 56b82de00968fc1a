/**
 * The data loader: batches of normalised NHWC images and int32 labels for the trainer and the
 * evaluator, decoded and augmented on the main thread or in worker threads (--use_mpio), with a
 * bounded prefetch queue.
 *
 * Reproducibility. Training order and augmentation depend only on (SEED, epoch, position):
 *  - the epoch's order is `new Rng(deriveSeed(seed, SALT.dataOrder, epoch)).permutation(N)`;
 *  - the sample at position p of the epoch is augmented with `new Rng(deriveSeed(seed,
 *    SALT.dataAugment, epoch, p))`.
 * So batches do not depend on worker scheduling, and a run resumed at (epoch, step) with the
 * same seed sees exactly the batches of the uninterrupted run. (The stream tags keep the data's
 * random streams apart from other users of deriveSeed(seed, epoch, ...).)
 *
 * Training drops the last partial batch (pdseg's drop_last); evaluation keeps it.
 */
import * as os from 'node:os';
import type { SegConfig } from '../config/schema.js';
import { dataError } from '../util/errors.js';
import { deriveSeed, Rng, SALT } from '../util/rng.js';
import { normalizationTables, normalizeInto } from './augment.js';
import { readSplit, type ListEntry, type Split } from './file_list.js';
import { WorkerPool } from './pool.js';
import { dataOptions, processTask, type DataOptions, type ProcessedSample, type SampleGeometry, type SampleTask } from './sample.js';


/** One batch for the model. */
export interface Batch {
  /** [n, height, width, channels] NHWC, RGB(A), normalised (x/255 − MEAN)/STD. */
  images: Float32Array;
  /** [n, height, width] class indices; IGNORE_INDEX where ignored (padding, rotation corners, unlabelled). */
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  /** The list lines of the samples, in batch order (file, line number, image and label paths). */
  entries: ListEntry[];
}

/** An eval/vis sample's list line and geometry (sample.ts). */
export interface EvalSampleInfo extends SampleGeometry {
  entry: ListEntry;
}

/** An eval/vis batch: a Batch at EVAL_CROP_SIZE plus per-sample geometry. */
export interface EvalBatch extends Batch {
  samples: EvalSampleInfo[];
}

export interface LoaderOptions {
  /** 0 = decode on the main thread (sharp still decodes on libuv threads); see defaultWorkers. */
  workers?: number;
  /** Stops the batches early (the generator returns) when aborted. */
  signal?: AbortSignal;
  /** Directory the file lists and DATA_DIR are relative to (default process.cwd()). */
  cwd?: string;
}

/** Worker threads for a run: min(DATALOADER.NUM_WORKERS, CPUs) with --use_mpio, else 0. */
export function defaultWorkers(cfg: SegConfig, useMpio: boolean): number {
  if (!useMpio) return 0;
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cfg.DATALOADER.NUM_WORKERS, cpus));
}

/** Training steps in an epoch of `numSamples` (drop_last: floor(N / BATCH_SIZE)). */
export function stepsPerEpoch(cfg: SegConfig, numSamples: number): number {
  return Math.floor(numSamples / cfg.BATCH_SIZE);
}

/**
 * Images per eval/vis batch (TEST.MODE pad): a forward pass without gradients keeps a third of a
 * training step's activations at most, so a batch of 3 × BATCH_SIZE training crops' pixels needs no
 * more memory than training does, and fewer, larger batches run faster. At least 1; results do not
 * depend on it (evaluation uses the moving statistics).
 */
export function evalBatchSize(cfg: SegConfig): number {
  const [tw = 1, th = 1] = cfg.TRAIN_CROP_SIZE;
  const [ew = 1, eh = 1] = cfg.EVAL_CROP_SIZE;
  return Math.max(1, Math.floor((3 * cfg.BATCH_SIZE * tw * th) / (ew * eh)));
}

/** The sample order of an epoch: a permutation of 0..n-1. */
export function epochOrder(seed: number, epoch: number, n: number): number[] {
  return new Rng(deriveSeed(seed, SALT.dataOrder, epoch)).permutation(n);
}

/** The augmentation seed of the sample at `position` of `epoch`. */
export function sampleSeed(seed: number, epoch: number, position: number): number {
  return deriveSeed(seed, SALT.dataAugment, epoch, position);
}

/** Bytes a processed sample holds while queued (8-bit image + int32 label). */
function sampleBytes(w: number, h: number, c: number): number {
  return w * h * (c + 4);
}

/** Queue bound, in samples: DATALOADER.BUF_SIZE, capped by a 512 MiB budget, at least what the workers keep busy. */
function queueCapacity(cfg: SegConfig, crop: readonly number[], workers: number): number {
  const [w = 1, h = 1] = crop;
  const budget = Math.floor((512 * 1024 * 1024) / sampleBytes(w, h, cfg.DATASET.DATA_DIM));
  const floor = workers > 0 ? workers * 2 : 2;
  return Math.max(floor, Math.min(cfg.DATALOADER.BUF_SIZE, budget));
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/**
 * Run `tasks` with at most `capacity` in flight (running or finished but not yet consumed),
 * yielding results in task order. Errors surface in order too.
 */
async function* ordered(tasks: readonly SampleTask[], run: (t: SampleTask) => Promise<ProcessedSample>, capacity: number, signal: AbortSignal | undefined): AsyncGenerator<ProcessedSample> {
  const inflight: Array<Promise<Settled<ProcessedSample>>> = [];
  let next = 0;
  while (true) {
    if (signal?.aborted) return;
    while (inflight.length < capacity && next < tasks.length) inflight.push(settle(run(tasks[next++] as SampleTask)));
    const head = inflight.shift();
    if (!head) return;
    const r = await head;
    if (!r.ok) throw r.error;
    yield r.value;
  }
}

/**
 * A data loader over one config. Keep one for a whole run (worker threads start once) and close
 * it at the end; the free functions trainBatches/evalBatches make and close one per call.
 */
export class DataLoader {
  readonly opts: DataOptions;
  readonly workers: number;
  private pool: WorkerPool | undefined;
  private readonly cwd: string;
  private readonly signal: AbortSignal | undefined;
  private readonly splits = new Map<Split, ListEntry[]>();

  constructor(
    readonly cfg: SegConfig,
    opts: LoaderOptions = {},
  ) {
    this.opts = dataOptions(cfg);
    this.workers = Math.max(0, Math.floor(opts.workers ?? 0));
    this.cwd = opts.cwd ?? process.cwd();
    this.signal = opts.signal;
  }

  /** The entries of a split's list (read once, then cached). Train and val lines need labels. */
  entries(split: Split): ListEntry[] {
    let e = this.splits.get(split);
    if (!e) {
      e = readSplit(this.cfg, split, this.cwd);
      this.splits.set(split, e);
    }
    return e;
  }

  private run(task: SampleTask): Promise<ProcessedSample> {
    if (this.workers === 0) return processTask(task, this.opts);
    this.pool ??= new WorkerPool(this.workers, this.opts);
    return this.pool.run(task);
  }

  /** One epoch of training batches (see the module comment for order and seeds). */
  async *trainBatches(args: { seed: number; epoch: number; startStep?: number }): AsyncGenerator<Batch> {
    const entries = this.entries('train');
    const B = this.cfg.BATCH_SIZE;
    const steps = stepsPerEpoch(this.cfg, entries.length);
    if (steps === 0) {
      throw dataError(`${this.cfg.DATASET.TRAIN_FILE_LIST}: ${entries.length} training sample(s), fewer than BATCH_SIZE ${B}`, {
        file: this.cfg.DATASET.TRAIN_FILE_LIST,
        key: 'BATCH_SIZE',
        hint: `lower BATCH_SIZE to at most ${entries.length}, or add samples`,
      });
    }
    const start = Math.max(0, Math.floor(args.startStep ?? 0));
    const order = epochOrder(args.seed, args.epoch, entries.length);
    const tasks: SampleTask[] = [];
    for (let p = start * B; p < steps * B; p++) {
      tasks.push({ entry: entries[order[p] as number] as ListEntry, mode: 'train', seed: sampleSeed(args.seed, args.epoch, p) });
    }
    yield* this.batches(tasks, B, this.opts.pipeline.trainCrop, false);
  }

  /**
   * Eval/vis batches of a split, in list order, the last partial batch kept. Images are resized
   * per AUG_METHOD and padded bottom/right to EVAL_CROP_SIZE (labels padded with IGNORE_INDEX);
   * with TEST.MODE whole or slide, one image per batch at its own resized size instead.
   */
  async *evalBatches(split: Split, args: { keepOriginal?: boolean; limit?: number } = {}): AsyncGenerator<EvalBatch> {
    let entries = this.entries(split);
    if (args.limit !== undefined) entries = entries.slice(0, Math.max(0, args.limit));
    const tasks = entries.map((entry): SampleTask => ({ entry, mode: 'eval', seed: 0, ...(args.keepOriginal ? { keepOriginal: true } : {}) }));
    const p = this.opts.pipeline;
    yield* this.batches(tasks, p.evalPad ? evalBatchSize(this.cfg) : 1, p.evalPad ? p.evalCrop : undefined, true) as AsyncGenerator<EvalBatch>;
  }

  /** Batches of `B` samples of size `crop`, or (crop undefined) of whatever size each sample has. */
  private async *batches(tasks: SampleTask[], B: number, crop: readonly [number, number] | undefined, withInfo: boolean): AsyncGenerator<Batch | EvalBatch> {
    const C = this.cfg.DATASET.DATA_DIM;
    const tables = normalizationTables(this.cfg.MEAN, this.cfg.STD);
    const capacity = queueCapacity(this.cfg, crop ?? this.opts.pipeline.evalCrop, this.workers);
    let [w, h] = crop ?? [0, 0];
    let cur: ProcessedSample[] = [];
    let curEntries: ListEntry[] = [];
    const emit = (): Batch | EvalBatch => {
      const n = cur.length;
      const images = new Float32Array(n * h * w * C);
      const labels = new Int32Array(n * h * w);
      cur.forEach((s, i) => {
        normalizeInto(images, i * h * w * C, s.image, C, tables);
        labels.set(s.label, i * h * w);
      });
      const batch: Batch = { images, labels, n, height: h, width: w, channels: C, entries: curEntries };
      const out = withInfo
        ? {
            ...batch,
            samples: cur.map(({ image, label, width, height, channels, ...geometry }, i): EvalSampleInfo => ({ entry: curEntries[i] as ListEntry, ...geometry })),
          }
        : batch;
      cur = [];
      curEntries = [];
      return out;
    };
    let i = 0;
    for await (const s of ordered(tasks, (t) => this.run(t), capacity, this.signal)) {
      if (!crop) [w, h] = [s.width, s.height];
      if (s.width !== w || s.height !== h || s.channels !== C) {
        throw new Error(`internal: sample ${s.width}x${s.height}x${s.channels}, batch ${w}x${h}x${C}`);
      }
      cur.push(s);
      curEntries.push((tasks[i++] as SampleTask).entry);
      if (cur.length === B) yield emit();
    }
    if (cur.length > 0 && withInfo && !this.signal?.aborted) yield emit();
  }

  /** Stop the worker threads (if any). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    if (p) await p.close();
  }
}

/** Options of the one-shot batch functions. */
export interface BatchOptions extends LoaderOptions {
  seed: number;
  epoch: number;
  startStep?: number;
}

/** One epoch of training batches with a loader made for the call (see DataLoader.trainBatches). */
export async function* trainBatches(cfg: SegConfig, opts: BatchOptions): AsyncGenerator<Batch> {
  const loader = new DataLoader(cfg, opts);
  try {
    yield* loader.trainBatches({ seed: opts.seed, epoch: opts.epoch, ...(opts.startStep !== undefined ? { startStep: opts.startStep } : {}) });
  } finally {
    await loader.close();
  }
}

/** Eval/vis batches with a loader made for the call (see DataLoader.evalBatches). */
export async function* evalBatches(cfg: SegConfig, split: 'val' | 'test' | 'vis', opts: LoaderOptions & { keepOriginal?: boolean; limit?: number } = {}): AsyncGenerator<EvalBatch> {
  const loader = new DataLoader(cfg, opts);
  try {
    yield* loader.evalBatches(split, { ...(opts.keepOriginal ? { keepOriginal: true } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
  } finally {
    await loader.close();
  }
}
