/** Building the model a config describes and filling it from a checkpoint (eval, vis, export, reports). */
import * as path from 'node:path';
import type { SegConfig } from '../config/schema.js';
import { buildModel, type SegModel } from '../models/build.js';
import { loadCheckpoint, restoreWeights } from '../checkpoint/checkpoint.js';
import { configError } from '../util/errors.js';

/**
 * The checkpoint folder a command evaluates: `--model DIR` when given, else TEST.TEST_MODEL.
 * An empty TEST.TEST_MODEL without --model is a config error.
 */
export function modelDirFor(cfg: SegConfig, flag: unknown, cwd = process.cwd()): string {
  const dir = typeof flag === 'string' && flag !== '' ? flag : cfg.TEST.TEST_MODEL;
  if (dir === '') {
    throw configError('TEST.TEST_MODEL is empty and no --model was given', { key: 'TEST.TEST_MODEL', hint: 'pass --model <run>/best_model (or final), or set TEST.TEST_MODEL' });
  }
  return path.resolve(cwd, dir);
}

/** A model built from `cfg` with the weights of the checkpoint in `dir` (architecture must match). */
export function loadModel(cfg: SegConfig, dir: string): SegModel {
  const ckpt = loadCheckpoint(dir);
  const model = buildModel(cfg);
  try {
    restoreWeights(model, ckpt);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    ckpt.dispose();
  }
}
