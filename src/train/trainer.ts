/**
 * `seg train`: the training loop (pdseg train.py, reference §3, without its quirks).
 *
 * Everything goes into TRAIN.MODEL_SAVE_DIR: config.yaml (the resolved config, SEED included),
 * metrics.jsonl, `<epoch>/` snapshots every SNAPSHOT_EPOCH epochs and at the last one (at most
 * KEEP_CHECKPOINTS of them), `best_model/` (with --do_eval, by TRAIN.BEST_METRIC), `final/`, and
 * `interrupted/` when Ctrl-C stops the run. Every checkpoint holds the weights, the optimiser
 * slots, the step/epoch, the seed and data position (the RNG state: all randomness derives from
 * them), and the best metric, so TRAIN.RESUME_MODEL_DIR continues exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import type { RunContext } from '../util/context.js';
import { configError, runtimeError, SegError } from '../util/errors.js';
import { deriveSeed, SALT } from '../util/rng.js';
import { makeDirs, writeFileAtomicSync } from '../util/atomic.js';
import { buildModel, type SegModel } from '../models/build.js';
import { buildLoss, activeLossStage } from '../losses/build.js';
import { DataLoader, stepsPerEpoch } from '../data/loader.js';
import { memoryCheck } from '../data/check.js';
import { ensureDataset } from '../data/datasets/ensure.js';
import { readSplit, type ListEntry } from '../data/file_list.js';
import { saveCheckpoint, loadCheckpoint, restoreWeights, loadPretrained, type LoadedCheckpoint } from '../checkpoint/checkpoint.js';
import { configToYaml } from '../config/format.js';
import { decaysWeight, Optimizer } from './optimizer.js';
import { makeLrSchedule } from './lr.js';
import { trainStep, type LossFunction } from './step.js';
import { initLogitBiasFromPrior } from './logit_prior.js';
import { claimRunDir, pruneSnapshots } from './run_dir.js';
import { MetricsLog } from './metrics_log.js';
import { EventWriter } from './tensorboard.js';
import { LogWindow, progressFields } from './log_window.js';
import { nextPosition, readTrainState, type Best, type Position, type TrainState } from './train_state.js';
import { evaluate } from './evaluate.js';
import { ConfusionMatrix, pickMetric, type SegMetrics } from '../metrics/confusion.js';

export { decaysWeight } from './optimizer.js';
export type { TrainState } from './train_state.js';

export interface TrainOptions {
  doEval: boolean;
  logSteps: number;
  debug: boolean;
  /** Decode/augment in worker threads (--use_mpio). */
  workers: number;
  /** stderr is a terminal: draw a progress bar instead of log lines. */
  interactive: boolean;
  cwd?: string;
  /** Move an earlier run in TRAIN.MODEL_SAVE_DIR aside instead of refusing to start (--overwrite). */
  overwrite?: boolean;
  /** Also write the metrics as TensorBoard events into this folder (--use_vdl, --vdl_log_dir). */
  eventsDir?: string;
}

export interface TrainResult {
  runDir: string;
  finalDir: string;
  bestDir: string | undefined;
  best: Best | undefined;
  lastEval: SegMetrics | undefined;
  steps: number;
  seconds: number;
  seed: number;
}

/** What every part of one run shares. */
interface Run {
  cfg: SegConfig;
  runDir: string;
  cwd: string;
  seed: number;
  stepsPerEpoch: number;
  model: SegModel;
  optimizer: Optimizer;
  log: MetricsLog;
  ctx: RunContext;
  started: number;
  /** The best evaluation so far (carried in every checkpoint). */
  best: Best | null;
}

/** Write checkpoint `<runDir>/<name>` for position `at`; returns its folder. */
function saveState(run: Run, name: string, reason: TrainState['reason'], at: Position): string {
  const target = path.join(run.runDir, name);
  const opt = run.optimizer.state();
  const state: TrainState = { ...at, seed: run.seed, stepsPerEpoch: run.stepsPerEpoch, optimizerStep: opt.step, best: run.best, reason };
  saveCheckpoint(target, {
    weights: run.model.weights.map((w) => ({ name: w.name, tensor: w.variable })),
    optimizer: { name: run.cfg.SOLVER.OPTIMIZER, config: { ...run.optimizer.options, decays: undefined }, slots: opt.slots },
    state,
    config: run.cfg,
  });
  return target;
}

/** Ctrl-C or SIGTERM: save `interrupted/` at `at` and return the error that ends the run. */
function interrupted(run: Run, at: Position): SegError {
  const dir = saveState(run, 'interrupted', 'interrupted', at);
  return new SegError('interrupted', `interrupted at epoch ${at.epoch} step ${at.epochStep}/${run.stepsPerEpoch}; checkpoint saved to ${dir}`, {
    hint: `resume with TRAIN.RESUME_MODEL_DIR ${path.relative(run.cwd, dir) || dir}`,
  });
}

/** Continue `resumed` exactly: weights, optimiser slots, position and best metric. */
function resume(run: Run, resumed: LoadedCheckpoint, state: TrainState, dir: string): Position {
  restoreWeights(run.model, resumed);
  if (resumed.optimizer) run.optimizer.load(state.optimizerStep, resumed.optimizer.slots);
  if (state.stepsPerEpoch !== run.stepsPerEpoch) {
    throw configError(`the checkpoint was trained with ${state.stepsPerEpoch} steps per epoch, this config gives ${run.stepsPerEpoch}`, { key: 'TRAIN.RESUME_MODEL_DIR', hint: 'resume with the same data list and BATCH_SIZE' });
  }
  run.best = state.best;
  const at = nextPosition(state, run.stepsPerEpoch);
  run.ctx.log.info(`Resume from ${dir}: epoch ${at.epoch}, step ${at.epochStep}/${run.stepsPerEpoch} (global step ${at.globalStep})`);
  return at;
}

/** A new run: pretrained weights where TRAIN.PRETRAINED_MODEL_DIR has them, then the logit bias at the class prior. */
async function initialise(run: Run, trainList: readonly ListEntry[]): Promise<Position> {
  const { cfg, ctx } = run;
  let loaded: string[] = [];
  if (cfg.TRAIN.PRETRAINED_MODEL_DIR !== '') {
    const dir = path.resolve(run.cwd, cfg.TRAIN.PRETRAINED_MODEL_DIR);
    if (fs.existsSync(dir)) loaded = loadPretrained(run.model, dir, ctx.log).loaded;
    else ctx.log.info(`Pretrained model dir ${cfg.TRAIN.PRETRAINED_MODEL_DIR} not exists, training from scratch...`);
  }
  await initLogitBiasFromPrior(run.model, cfg, trainList, ctx.log, loaded);
  const epoch = cfg.SOLVER.BEGIN_EPOCH;
  return { epoch, epochStep: 0, globalStep: (epoch - 1) * run.stepsPerEpoch };
}

/** Evaluate on the val list after the snapshot of `at`, log it, and keep best_model/ by TRAIN.BEST_METRIC. */
async function evaluateSnapshot(run: Run, at: Position, loader: DataLoader, lossFn: LossFunction): Promise<SegMetrics> {
  const { cfg, ctx } = run;
  const t0 = Date.now();
  const ev = await evaluate(run.model, cfg, { split: 'val', loader, ctx, lossFn });
  const m = ev.metrics;
  run.log.write({
    type: 'eval',
    epoch: at.epoch,
    step: at.globalStep,
    split: 'val',
    miou: m.miou,
    acc: m.acc,
    kappa: m.kappa,
    iou: m.iou,
    precision: m.precision,
    recall: m.recall,
    ...(ev.loss !== undefined ? { loss: ev.loss } : {}),
    elapsed_s: (Date.now() - run.started) / 1000,
  });
  const value = pickMetric(m, cfg.TRAIN.BEST_METRIC);
  ctx.log.info(`[EVAL] epoch=${at.epoch} mIoU=${m.miou.toFixed(4)} acc=${m.acc.toFixed(4)} ${cfg.TRAIN.BEST_METRIC}=${value.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (!run.best || value > run.best.value) {
    run.best = { metric: cfg.TRAIN.BEST_METRIC, value, epoch: at.epoch };
    const bestDir = saveState(run, 'best_model', 'best', at);
    ctx.log.info(`Save best model ${path.join(run.runDir, String(at.epoch))} to ${bestDir}, ${cfg.TRAIN.BEST_METRIC} = ${value.toFixed(4)}`);
  }
  return m;
}

/** A non-finite loss stops the run, naming the step and the terms that overflowed. */
function nonFinite(run: Run, at: Position, loss: number, terms: Readonly<Record<string, number>>): SegError {
  const bad = Object.entries(terms)
    .filter(([, v]) => !Number.isFinite(v))
    .map(([k, v]) => `${k}=${v}`);
  return runtimeError(`non-finite loss at epoch ${at.epoch} step ${at.epochStep + 1} (global step ${at.globalStep + 1}): loss=${loss}${bad.length ? `, ${bad.join(', ')}` : ''}`, {
    hint: `lower SOLVER.LR (now ${run.cfg.SOLVER.LR}) or enable SOLVER.LR_WARMUP; the last good checkpoint in ${run.runDir} is untouched`,
  });
}

export async function train(cfgIn: SegConfig, opts: TrainOptions, ctx: RunContext): Promise<TrainResult> {
  const cwd = opts.cwd ?? process.cwd();
  const started = Date.now();
  if (cfgIn.TRAIN.MODEL_SAVE_DIR === '') {
    throw configError('TRAIN.MODEL_SAVE_DIR is empty: seg needs a folder for checkpoints and metrics', { key: 'TRAIN.MODEL_SAVE_DIR', hint: 'set TRAIN.MODEL_SAVE_DIR ./saved_model/my_run' });
  }
  const runDir = path.resolve(cwd, cfgIn.TRAIN.MODEL_SAVE_DIR);

  // Resume first: the checkpoint's seed and position win over the config's.
  const resumeDir = cfgIn.TRAIN.RESUME_MODEL_DIR === '' ? undefined : path.resolve(cwd, cfgIn.TRAIN.RESUME_MODEL_DIR);
  claimRunDir(runDir, { resumeDir, overwrite: opts.overwrite ?? false, shown: cfgIn.TRAIN.MODEL_SAVE_DIR, log: ctx.log });
  const resumed = resumeDir ? loadCheckpoint(resumeDir) : undefined;
  const resumedState = resumed && resumeDir ? readTrainState(resumed.state, resumeDir) : undefined;
  const seed = resumedState?.seed ?? cfgIn.SEED ?? randomInt(0, 2 ** 31 - 1);
  const cfg: SegConfig = await ensureDataset({ ...cfgIn, SEED: seed }, ctx, { cwd, splits: opts.doEval ? ['train', 'val'] : ['train'] });

  const trainList = readSplit(cfg, 'train', cwd);
  const spe = stepsPerEpoch(cfg, trainList.length);
  if (spe < 1) {
    throw new SegError('data', `${trainList.length} training images are fewer than BATCH_SIZE ${cfg.BATCH_SIZE}`, { file: cfg.DATASET.TRAIN_FILE_LIST, hint: 'lower BATCH_SIZE or add images' });
  }
  const totalSteps = cfg.SOLVER.NUM_EPOCHS * spe;
  const memory = memoryCheck(cfg);
  if (!memory.pass) ctx.log.warn(memory.messages.join('; '));
  makeDirs(runDir);
  writeFileAtomicSync(path.join(runDir, 'config.yaml'), configToYaml(cfg));

  const model = buildModel(cfg, { seed: deriveSeed(seed, SALT.init) });
  const names = new Map<tf.Variable, string>(model.weights.map((w) => [w.variable, w.name]));
  const optimizer = new Optimizer(
    { name: cfg.SOLVER.OPTIMIZER, momentum: cfg.SOLVER.MOMENTUM, momentum2: cfg.SOLVER.MOMENTUM2, weightDecay: cfg.SOLVER.WEIGHT_DECAY, decays: decaysWeight },
    model.weights.filter((w) => w.trainable).map((w) => ({ name: w.name, variable: w.variable })),
  );
  const log = new MetricsLog(runDir, { append: resumed !== undefined }, opts.eventsDir === undefined ? undefined : new EventWriter(path.resolve(cwd, opts.eventsDir)));
  const loader = new DataLoader(cfg, { workers: opts.workers, signal: ctx.signal, cwd });
  const run: Run = { cfg, runDir, cwd, seed, stepsPerEpoch: spe, model, optimizer, log, ctx, started, best: null };
  try {
    let at: Position;
    if (resumed && resumedState && resumeDir) {
      at = resume(run, resumed, resumedState, resumeDir);
      resumed.dispose();
    } else {
      at = await initialise(run, trainList);
    }
    const schedule = makeLrSchedule(cfg.SOLVER, spe);
    let lastEval: SegMetrics | undefined;
    const debugCm = opts.debug ? new ConfusionMatrix(model.headChannels === 1 ? 2 : model.headChannels) : undefined;
    const window = new LogWindow(debugCm);
    const stepsAtStart = at.globalStep;
    const bar = opts.interactive ? ctx.progress('train', totalSteps) : undefined;
    bar?.update(at.globalStep);
    let stageName = '';

    for (; at.epoch <= cfg.SOLVER.NUM_EPOCHS; at = { ...at, epoch: at.epoch + 1, epochStep: 0 }) {
      const stage = activeLossStage(cfg, at.epoch);
      if (stage.describe !== stageName) ctx.log.info(`epoch ${at.epoch}: loss = ${stage.describe}`);
      stageName = stage.describe;
      const lossFn = buildLoss(cfg, at.epoch);
      for await (const batch of loader.trainBatches({ seed, epoch: at.epoch, startStep: at.epochStep })) {
        const lr = schedule(at.globalStep);
        const { loss, terms } = trainStep(model, optimizer, lossFn, names, batch, {
          lr,
          seed: deriveSeed(seed, SALT.dropout, at.globalStep),
          step: at.globalStep,
          accumulate: cfg.SOLVER.ACCUMULATE_STEPS,
          ignoreIndex: cfg.DATASET.IGNORE_INDEX,
          ...(debugCm ? { confusion: debugCm } : {}),
        });
        if (!Number.isFinite(loss)) throw nonFinite(run, at, loss, terms);
        at = { epoch: at.epoch, epochStep: at.epochStep + 1, globalStep: at.globalStep + 1 };
        window.add(loss, terms, batch.n);
        if (at.epochStep % opts.logSteps === 0 || at.epochStep === spe) {
          const rec = window.take({ epoch: at.epoch, step: at.globalStep, epoch_step: at.epochStep, lr, elapsed_s: (Date.now() - started) / 1000 });
          log.write(rec);
          const done = at.globalStep - stepsAtStart;
          const fields = progressFields(rec, spe, done > 0 ? (((Date.now() - started) / 1000) * (totalSteps - at.globalStep)) / done : 0);
          if (bar) bar.update(at.globalStep, fields);
          else ctx.log.info(Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '));
        } else bar?.update(at.globalStep);
        if (ctx.signal.aborted) break;
      }
      // Aborted during a step, or between steps (e.g. while the loader was starting the epoch).
      if (ctx.signal.aborted) {
        bar?.stop();
        throw interrupted(run, at);
      }
      if (at.epoch % cfg.TRAIN.SNAPSHOT_EPOCH === 0 || at.epoch === cfg.SOLVER.NUM_EPOCHS) {
        const done: Position = { ...at, epochStep: spe };
        ctx.log.info(`Save model checkpoint to ${saveState(run, String(at.epoch), 'snapshot', done)}`);
        pruneSnapshots(runDir, cfg.TRAIN.KEEP_CHECKPOINTS, seed);
        if (opts.doEval) lastEval = await evaluateSnapshot(run, done, loader, lossFn);
      }
    }
    bar?.stop();
    const finalDir = saveState(run, 'final', 'final', { epoch: cfg.SOLVER.NUM_EPOCHS, epochStep: spe, globalStep: at.globalStep });
    ctx.log.info(`Save final model to ${finalDir}`);
    const best = run.best ?? undefined;
    return { runDir, finalDir, bestDir: best ? path.join(runDir, 'best_model') : undefined, best, lastEval, steps: at.globalStep - stepsAtStart, seconds: (Date.now() - started) / 1000, seed };
  } finally {
    await loader.close();
    log.close();
    optimizer.dispose();
    model.dispose();
  }
}

export type { SegModel };
