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
import { deriveSeed } from '../util/rng.js';
import { makeDirs, writeFileAtomicSync } from '../util/atomic.js';
import { buildModel, type SegModel } from '../models/build.js';
import { buildLoss, activeLossStage } from '../losses/build.js';
import { DataLoader, stepsPerEpoch } from '../data/loader.js';
import { memoryCheck } from '../data/check.js';
import { ensureDataset } from '../data/datasets/ensure.js';
import { readSplit } from '../data/file_list.js';
import { saveCheckpoint, loadCheckpoint, restoreWeights, loadPretrained } from '../checkpoint/checkpoint.js';
import { configToYaml } from '../config/format.js';
import { Optimizer } from './optimizer.js';
import { makeLrSchedule } from './lr.js';
import { trainStep } from './step.js';
import { initLogitBiasFromPrior } from './logit_prior.js';
import { claimRunDir, pruneSnapshots } from './run_dir.js';
import { MetricsLog, type TrainRecord } from './metrics_log.js';
import { evaluate } from './evaluate.js';
import { ConfusionMatrix, pickMetric, type SegMetrics } from '../metrics/confusion.js';

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
}

export interface TrainResult {
  runDir: string;
  finalDir: string;
  bestDir: string | undefined;
  best: { metric: string; value: number; epoch: number } | undefined;
  lastEval: SegMetrics | undefined;
  steps: number;
  seconds: number;
  seed: number;
}

/** What a checkpoint's state.json holds. */
export interface TrainState {
  /** Epoch the data position refers to. */
  epoch: number;
  /** Steps of `epoch` already done (stepsPerEpoch when the epoch is complete). */
  epochStep: number;
  /** Updates done since the start of training. */
  globalStep: number;
  stepsPerEpoch: number;
  /** Run seed: with (epoch, epochStep) it fixes every later random choice (data order, augmentation, dropout). */
  seed: number;
  optimizerStep: number;
  best: { metric: string; value: number; epoch: number } | null;
  /** Why this checkpoint was written. */
  reason: 'snapshot' | 'final' | 'interrupted' | 'best';
}

/** Weights pdseg exempts from L2: the batch-norm scale/shift of the DeepLab head (not the backbone). */
export function decaysWeight(name: string): boolean {
  const isNorm = /\/(bn|gn|norm)[^/]*\/(gamma|beta)$/.test(name);
  return !(isNorm && !name.startsWith('backbone/'));
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
  const resumedState = resumed ? (resumed.state as unknown as TrainState) : undefined;
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

  const model = buildModel(cfg, { seed: deriveSeed(seed, 0x1217) });
  const names = new Map<tf.Variable, string>(model.weights.map((w) => [w.variable, w.name]));
  const optimizer = new Optimizer(
    { name: cfg.SOLVER.OPTIMIZER, momentum: cfg.SOLVER.MOMENTUM, momentum2: cfg.SOLVER.MOMENTUM2, weightDecay: cfg.SOLVER.WEIGHT_DECAY, decays: decaysWeight },
    model.weights.filter((w) => w.trainable).map((w) => ({ name: w.name, variable: w.variable })),
  );
  const log = new MetricsLog(runDir, { append: resumed !== undefined });
  const loader = new DataLoader(cfg, { workers: opts.workers, signal: ctx.signal, cwd });
  try {
    let epoch = cfg.SOLVER.BEGIN_EPOCH;
    let epochStep = 0;
    let globalStep = (epoch - 1) * spe;
    let best: TrainState['best'] = null;
    let pretrainedLoaded: string[] = [];
    if (resumed && resumedState) {
      restoreWeights(model, resumed);
      if (resumed.optimizer) optimizer.load(resumedState.optimizerStep, resumed.optimizer.slots);
      if (resumedState.stepsPerEpoch !== spe) {
        throw configError(`the checkpoint was trained with ${resumedState.stepsPerEpoch} steps per epoch, this config gives ${spe}`, { key: 'TRAIN.RESUME_MODEL_DIR', hint: 'resume with the same data list and BATCH_SIZE' });
      }
      epoch = resumedState.epoch;
      epochStep = resumedState.epochStep;
      globalStep = resumedState.globalStep;
      best = resumedState.best;
      if (epochStep >= spe) {
        epoch += 1;
        epochStep = 0;
      }
      ctx.log.info(`Resume from ${resumeDir}: epoch ${epoch}, step ${epochStep}/${spe} (global step ${globalStep})`);
      resumed.dispose();
    } else if (cfg.TRAIN.PRETRAINED_MODEL_DIR !== '') {
      const dir = path.resolve(cwd, cfg.TRAIN.PRETRAINED_MODEL_DIR);
      if (fs.existsSync(dir)) pretrainedLoaded = loadPretrained(model, dir, ctx.log).loaded;
      else ctx.log.info(`Pretrained model dir ${cfg.TRAIN.PRETRAINED_MODEL_DIR} not exists, training from scratch...`);
    }
    if (!resumed) await initLogitBiasFromPrior(model, cfg, trainList, ctx.log, pretrainedLoaded);
    const schedule = makeLrSchedule(cfg.SOLVER, spe);

    const checkpoint = (dir: string, reason: TrainState['reason'], state: Omit<TrainState, 'reason' | 'seed' | 'stepsPerEpoch' | 'optimizerStep' | 'best'>): string => {
      const target = path.join(runDir, dir);
      const opt = optimizer.state();
      saveCheckpoint(target, {
        weights: model.weights.map((w) => ({ name: w.name, tensor: w.variable })),
        optimizer: { name: cfg.SOLVER.OPTIMIZER, config: { ...optimizer.options, decays: undefined }, slots: opt.slots },
        state: { ...state, seed, stepsPerEpoch: spe, optimizerStep: opt.step, best, reason } satisfies TrainState as unknown as Record<string, unknown>,
        config: cfg,
      });
      return target;
    };

    let bestDir: string | undefined = best ? path.join(runDir, 'best_model') : undefined;
    let lastEval: SegMetrics | undefined;
    let window = { n: 0, loss: 0, terms: {} as Record<string, number>, t0: Date.now(), images: 0 };
    const debugCm = opts.debug ? new ConfusionMatrix(model.headChannels === 1 ? 2 : model.headChannels) : undefined;
    const stepsAtStart = globalStep;
    const bar = opts.interactive ? ctx.progress('train', totalSteps) : undefined;
    bar?.update(globalStep);
    let stageName = '';

    for (; epoch <= cfg.SOLVER.NUM_EPOCHS; epoch++, epochStep = 0) {
      const stage = activeLossStage(cfg, epoch);
      if (stage.describe !== stageName) {
        ctx.log.info(`epoch ${epoch}: loss = ${stage.describe}`);
        stageName = stage.describe;
      }
      const lossFn = buildLoss(cfg, epoch);
      for await (const batch of loader.trainBatches({ seed, epoch, startStep: epochStep })) {
        const lr = schedule(globalStep);
        const { loss, terms } = trainStep(model, optimizer, lossFn, names, batch, {
          lr,
          seed: deriveSeed(seed, 0xd0, globalStep),
          step: globalStep,
          accumulate: cfg.SOLVER.ACCUMULATE_STEPS,
          ignoreIndex: cfg.DATASET.IGNORE_INDEX,
          ...(debugCm ? { confusion: debugCm } : {}),
        });
        if (!Number.isFinite(loss)) {
          const bad = Object.entries(terms).filter(([, v]) => !Number.isFinite(v)).map(([k, v]) => `${k}=${v}`);
          throw runtimeError(`non-finite loss at epoch ${epoch} step ${epochStep + 1} (global step ${globalStep + 1}): loss=${loss}${bad.length ? `, ${bad.join(', ')}` : ''}`, {
            hint: `lower SOLVER.LR (now ${cfg.SOLVER.LR}) or enable SOLVER.LR_WARMUP; the last good checkpoint in ${runDir} is untouched`,
          });
        }
        globalStep++;
        epochStep++;
        window.n++;
        window.images += batch.n;
        window.loss += loss;
        for (const [k, v] of Object.entries(terms)) window.terms[k] = (window.terms[k] ?? 0) + v;
        const logNow = epochStep % opts.logSteps === 0 || epochStep === spe;
        if (logNow) {
          const secs = Math.max(1e-9, (Date.now() - window.t0) / 1000);
          const rec: TrainRecord = {
            type: 'train',
            epoch,
            step: globalStep,
            epoch_step: epochStep,
            lr,
            loss: window.loss / window.n,
            terms: Object.fromEntries(Object.entries(window.terms).map(([k, v]) => [k, v / window.n])),
            steps_per_sec: window.n / secs,
            images_per_sec: window.images / secs,
            elapsed_s: (Date.now() - started) / 1000,
          };
          if (debugCm) {
            const m = debugCm.metrics();
            rec.acc = m.acc;
            rec.miou = m.miou;
            debugCm.reset();
          }
          log.write(rec);
          const done = globalStep - stepsAtStart;
          const eta = done > 0 ? (((Date.now() - started) / 1000) * (totalSteps - globalStep)) / done : 0;
          const fields = formatFields(rec, spe, eta);
          if (bar) bar.update(globalStep, fields);
          else ctx.log.info(Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '));
          window = { n: 0, loss: 0, terms: {}, t0: Date.now(), images: 0 };
        } else bar?.update(globalStep);
        if (ctx.signal.aborted) {
          bar?.stop();
          const dir = checkpoint('interrupted', 'interrupted', { epoch, epochStep, globalStep });
          throw new SegError('interrupted', `interrupted at epoch ${epoch} step ${epochStep}/${spe}; checkpoint saved to ${dir}`, {
            hint: `resume with TRAIN.RESUME_MODEL_DIR ${path.relative(cwd, dir) || dir}`,
          });
        }
      }
      if (ctx.signal.aborted) {
        // Aborted between steps (e.g. while the loader was starting the epoch).
        bar?.stop();
        const dir = checkpoint('interrupted', 'interrupted', { epoch, epochStep, globalStep });
        throw new SegError('interrupted', `interrupted at epoch ${epoch} step ${epochStep}/${spe}; checkpoint saved to ${dir}`, { hint: `resume with TRAIN.RESUME_MODEL_DIR ${dir}` });
      }
      const last = epoch === cfg.SOLVER.NUM_EPOCHS;
      if (epoch % cfg.TRAIN.SNAPSHOT_EPOCH === 0 || last) {
        const dir = checkpoint(String(epoch), 'snapshot', { epoch, epochStep: spe, globalStep });
        ctx.log.info(`Save model checkpoint to ${dir}`);
        pruneSnapshots(runDir, cfg.TRAIN.KEEP_CHECKPOINTS, seed);
        if (opts.doEval) {
          const t0 = Date.now();
          const ev = await evaluate(model, cfg, { split: 'val', loader, ctx, lossFn });
          lastEval = ev.metrics;
          log.write({
            type: 'eval',
            epoch,
            step: globalStep,
            split: 'val',
            miou: ev.metrics.miou,
            acc: ev.metrics.acc,
            kappa: ev.metrics.kappa,
            iou: ev.metrics.iou,
            precision: ev.metrics.precision,
            recall: ev.metrics.recall,
            ...(ev.loss !== undefined ? { loss: ev.loss } : {}),
            elapsed_s: (Date.now() - started) / 1000,
          });
          const value = pickMetric(ev.metrics, cfg.TRAIN.BEST_METRIC);
          ctx.log.info(`[EVAL] epoch=${epoch} mIoU=${ev.metrics.miou.toFixed(4)} acc=${ev.metrics.acc.toFixed(4)} ${cfg.TRAIN.BEST_METRIC}=${value.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          if (!best || value > best.value) {
            best = { metric: cfg.TRAIN.BEST_METRIC, value, epoch };
            bestDir = checkpoint('best_model', 'best', { epoch, epochStep: spe, globalStep });
            ctx.log.info(`Save best model ${dir} to ${bestDir}, ${cfg.TRAIN.BEST_METRIC} = ${value.toFixed(4)}`);
          }
        }
      }
    }
    bar?.stop();
    const finalDir = checkpoint('final', 'final', { epoch: cfg.SOLVER.NUM_EPOCHS, epochStep: spe, globalStep });
    ctx.log.info(`Save final model to ${finalDir}`);
    return { runDir, finalDir, bestDir, best: best ?? undefined, lastEval, steps: globalStep - stepsAtStart, seconds: (Date.now() - started) / 1000, seed };
  } finally {
    await loader.close();
    log.close();
    optimizer.dispose();
    model.dispose();
  }
}

function formatFields(rec: TrainRecord, spe: number, etaSeconds: number): Record<string, string | number> {
  const f: Record<string, string | number> = {
    epoch: rec.epoch,
    step: `${rec.epoch_step}/${spe}`,
    lr: rec.lr.toPrecision(4),
    loss: rec.loss.toFixed(4),
  };
  const terms = Object.entries(rec.terms);
  if (terms.length > 1) for (const [k, v] of terms) f[k] = v.toFixed(4);
  f['step/s'] = rec.steps_per_sec.toFixed(3);
  if (rec.acc !== undefined) f['acc'] = rec.acc.toFixed(4);
  if (rec.miou !== undefined) f['mIoU'] = rec.miou.toFixed(4);
  f['eta'] = formatEta(etaSeconds);
  return f;
}

function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export type { SegModel };
