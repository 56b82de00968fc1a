/**
 * Checkpoints: one directory per checkpoint, written atomically (src/util/atomic.ts).
 *
 *   model.json                 weights in tfjs's weights-manifest format ({format: 'seg-weights',
 *                              weightsManifest}), shards group1-shard<i>of<n>.bin
 *   optimizer.json             optional: {name, config, weightsManifest}, shards optimizer-shard<i>of<n>.bin
 *   state.json                 training state (the trainer's: epoch, step, seed/RNG state, best metric, ...)
 *   config.yaml                the resolved config the run used
 *   checkpoint.json            written last: {format: 'seg-checkpoint', version, files: {name: {bytes, sha256}}}
 *
 * Loading verifies every file against checkpoint.json, so a truncated or altered file is an error
 * naming it, never silently different weights. Errors: a missing or corrupt checkpoint is a data
 * error (exit 3); weights that do not fit the model built from the config are a config error
 * (exit 2), naming the first mismatching weight.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import * as yaml from 'js-yaml';
import type { SegConfig } from '../config/schema.js';
import { configToYaml } from '../config/format.js';
import type { SegModel } from '../models/types.js';
import type { Logger } from '../util/context.js';
import { configError, dataError } from '../util/errors.js';
import { replaceDirAtomic, resolveDir, OLD_SUFFIX, type SaveStage } from '../util/atomic.js';
import { readJson, readShards, writeFileSynced, writeShards, type ManifestGroup, type NamedTensor } from './weights_io.js';
import { isKerasLayersModel, kerasToSegWeights } from './keras.js';

export type { NamedTensor } from './weights_io.js';
export type { SaveStage } from '../util/atomic.js';

export const CHECKPOINT_FORMAT = 'seg-checkpoint';
export const WEIGHTS_FORMAT = 'seg-weights';
export const CHECKPOINT_VERSION = 1;
const INDEX = 'checkpoint.json';

/** Optimiser state: its name and configuration, and every slot (moments) as named tensors. */
export interface OptimizerCheckpoint {
  name: string;
  config: Record<string, unknown>;
  slots: readonly NamedTensor[];
}

/** What saveCheckpoint writes. */
export interface CheckpointData {
  weights: readonly NamedTensor[];
  optimizer?: OptimizerCheckpoint;
  /** JSON-serialisable training state. */
  state: Record<string, unknown>;
  config: SegConfig;
}

export interface SaveOptions {
  /** Called at each stage of the save (tests kill the process there). */
  onStage?: (stage: SaveStage) => void;
  /** fsync every file before publishing (default true). */
  fsync?: boolean;
}

/** A checkpoint read back. Its tensors belong to the caller: call dispose() when done. */
export interface LoadedCheckpoint {
  /** The directory actually read (the `.seg-old` sibling after a save killed mid-rename). */
  dir: string;
  weights: NamedTensor[];
  optimizer?: { name: string; config: Record<string, unknown>; slots: NamedTensor[] };
  state: Record<string, unknown>;
  /** The resolved config saved with it (parsed config.yaml, not re-validated). */
  config: unknown;
  dispose(): void;
}

interface IndexFile {
  format: string;
  version: number;
  generatedBy: string;
  created: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function isCompleteCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, INDEX));
}

/**
 * Write a checkpoint to `dir` atomically: a process killed during the save leaves the previous
 * checkpoint in `dir` intact and loadable.
 */
export function saveCheckpoint(dir: string, data: CheckpointData, opts: SaveOptions = {}): void {
  const fsync = opts.fsync ?? true;
  const onStage = opts.onStage;
  replaceDirAtomic(
    dir,
    (tmp) => {
      const files: string[] = [];
      const write = (name: string, content: string | Uint8Array): void => {
        writeFileSynced(path.join(tmp, name), content, fsync);
        files.push(name);
        onStage?.('file-written');
      };
      const shardWritten = (): void => onStage?.('file-written');
      const weights = writeShards(tmp, 'group1', data.weights, fsync, shardWritten);
      files.push(...weights.paths);
      write('model.json', JSON.stringify({ format: WEIGHTS_FORMAT, generatedBy: 'seg', weightsManifest: [weights] }, null, 1));
      if (data.optimizer) {
        const slots = writeShards(tmp, 'optimizer', data.optimizer.slots, fsync, shardWritten);
        files.push(...slots.paths);
        write('optimizer.json', JSON.stringify({ name: data.optimizer.name, config: data.optimizer.config, weightsManifest: [slots] }, null, 1));
      }
      write('state.json', JSON.stringify(data.state, null, 2));
      write('config.yaml', configToYaml(data.config));
      const index: IndexFile = {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        generatedBy: 'seg',
        created: new Date().toISOString(),
        files: Object.fromEntries(files.map((f) => [f, { bytes: fs.statSync(path.join(tmp, f)).size, sha256: sha256(path.join(tmp, f)) }])),
      };
      writeFileSynced(path.join(tmp, INDEX), JSON.stringify(index, null, 1), fsync);
    },
    isCompleteCheckpoint,
    onStage,
  );
}

function notFound(dir: string, what: string): never {
  throw dataError(`${what} ${dir} not found`, { file: dir, hint: 'check the path (TRAIN.RESUME_MODEL_DIR, TEST.TEST_MODEL or --model); checkpoints are folders such as saved_model/<run>/final' });
}

/** Read and verify the checkpoint index of `dir`. */
function readIndex(dir: string): IndexFile {
  const file = path.join(dir, INDEX);
  const raw = readJson(file, 'checkpoint index') as Partial<IndexFile>;
  if (raw.format !== CHECKPOINT_FORMAT || typeof raw.files !== 'object' || raw.files === null) {
    throw dataError(`${file} is not a seg checkpoint index`, { file, hint: 'point to a folder written by seg train' });
  }
  if (raw.version !== CHECKPOINT_VERSION) {
    throw dataError(`${file}: checkpoint format version ${String(raw.version)} is not supported (this seg reads version ${CHECKPOINT_VERSION})`, { file, hint: 'use the seg version that wrote it' });
  }
  for (const [name, info] of Object.entries(raw.files)) {
    const f = path.join(dir, name);
    let size: number;
    try {
      size = fs.statSync(f).size;
    } catch {
      throw dataError(`checkpoint ${dir} is incomplete: ${name} is missing`, { file: f, hint: 'the folder was copied partially or altered; use another checkpoint' });
    }
    if (size !== info.bytes || sha256(f) !== info.sha256) {
      throw dataError(`checkpoint ${dir} is corrupt: ${name} does not match its checksum (${size} bytes, expected ${info.bytes})`, { file: f, hint: 'the file was truncated or altered; use another checkpoint' });
    }
  }
  return raw as IndexFile;
}

/** Load a checkpoint (weights, optimizer state, training state, config), verifying every file. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const target = path.resolve(dir);
  const actual = resolveDir(target, isCompleteCheckpoint);
  if (!actual) {
    if (fs.existsSync(target)) {
      throw dataError(`${dir} is not a seg checkpoint (no ${INDEX})`, { file: dir, hint: 'a save may have been interrupted before it completed, or this is another kind of folder; use another checkpoint' });
    }
    notFound(dir, 'checkpoint');
  }
  readIndex(actual);
  const modelFile = path.join(actual, 'model.json');
  const model = readJson(modelFile, 'weights manifest') as { format?: string; weightsManifest?: ManifestGroup[] };
  if (!Array.isArray(model.weightsManifest)) throw dataError(`${modelFile} has no weightsManifest`, { file: modelFile });
  const weights = readShards(actual, model.weightsManifest, modelFile);
  const tensors: tf.Tensor[] = weights.map((w) => w.tensor);
  try {
    let optimizer: LoadedCheckpoint['optimizer'];
    const optFile = path.join(actual, 'optimizer.json');
    if (fs.existsSync(optFile)) {
      const o = readJson(optFile, 'optimizer state') as { name?: string; config?: Record<string, unknown>; weightsManifest?: ManifestGroup[] };
      if (typeof o.name !== 'string' || !Array.isArray(o.weightsManifest)) throw dataError(`${optFile} is not an optimizer state file`, { file: optFile });
      const slots = readShards(actual, o.weightsManifest, optFile);
      tensors.push(...slots.map((s) => s.tensor));
      optimizer = { name: o.name, config: o.config ?? {}, slots };
    }
    const state = readJson(path.join(actual, 'state.json'), 'training state') as Record<string, unknown>;
    let config: unknown = null;
    const cfgFile = path.join(actual, 'config.yaml');
    if (fs.existsSync(cfgFile)) config = yaml.load(fs.readFileSync(cfgFile, 'utf8'));
    return {
      dir: actual,
      weights,
      ...(optimizer ? { optimizer } : {}),
      state,
      config,
      dispose: () => tf.dispose(tensors),
    };
  } catch (e) {
    tf.dispose(tensors);
    throw e;
  }
}

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Copy a checkpoint's weights into `model`, strictly: every model weight must be present with its
 * shape, and the checkpoint must hold no other weight. On a mismatch nothing is assigned and a
 * config error names the first mismatching weight.
 */
export function restoreWeights(model: SegModel, source: LoadedCheckpoint | readonly NamedTensor[]): void {
  const list = Array.isArray(source) ? (source as readonly NamedTensor[]) : (source as LoadedCheckpoint).weights;
  const where = Array.isArray(source) ? 'the checkpoint' : `checkpoint ${(source as LoadedCheckpoint).dir}`;
  const byName = new Map(list.map((w) => [w.name, w.tensor]));
  const hint = 'the checkpoint was trained with other MODEL.* settings (or NUM_CLASSES/losses); use the config it was trained with (its config.yaml), or load it as TRAIN.PRETRAINED_MODEL_DIR for a partial load';
  for (const w of model.weights) {
    const t = byName.get(w.name);
    if (!t) throw configError(`${where} has no weight ${w.name}, which the model built from the config has`, { hint });
    if (t.shape.length !== w.variable.shape.length || t.shape.some((d, i) => d !== w.variable.shape[i])) {
      throw configError(`weight ${w.name} has shape ${shapeStr(t.shape)} in ${where} but ${shapeStr(w.variable.shape)} in the model built from the config`, { hint });
    }
    if (t.dtype !== w.variable.dtype) throw configError(`weight ${w.name} has dtype ${t.dtype} in ${where} but ${w.variable.dtype} in the model`, { hint });
  }
  const known = new Set(model.weights.map((w) => w.name));
  const extra = list.find((w) => !known.has(w.name));
  if (extra) throw configError(`${where} has a weight ${extra.name} that the model built from the config does not have`, { hint });
  for (const w of model.weights) w.variable.assign(byName.get(w.name) as tf.Tensor);
}

/** The outcome of a partial load. */
export interface PretrainedReport {
  dir: string;
  /** Model weights that were loaded. */
  loaded: string[];
  /** Model weights left as initialised, and why. */
  skipped: Array<{ name: string; reason: 'shape'; pretrainedShape: number[]; modelShape: number[] } | { name: string; reason: 'missing'; modelShape: number[] }>;
  /** Pretrained weights no model weight uses. */
  unused: string[];
  /** Number of model weights (T in `K/T weights loaded`). */
  total: number;
}

/**
 * Read the weights of a checkpoint or pretrained folder: a seg checkpoint (verified), a seg
 * weights folder (model.json + shards, e.g. `seg pretrained download` output) or a Keras
 * MobileNetV2 in tfjs-converter's layers format (names mapped onto seg's backbone).
 */
export function readWeightsDir(dir: string): NamedTensor[] {
  const target = path.resolve(dir);
  const actual = resolveDir(target, (d) => fs.existsSync(path.join(d, 'model.json'))) ?? notFound(dir, 'pretrained model folder');
  if (isCompleteCheckpoint(actual)) readIndex(actual);
  const file = path.join(actual, 'model.json');
  const manifest = readJson(file, 'weights manifest') as { format?: string; weightsManifest?: ManifestGroup[]; modelTopology?: unknown };
  if (!Array.isArray(manifest.weightsManifest)) {
    throw dataError(`${file} has no weightsManifest`, { file, hint: 'expected a seg checkpoint, a `seg pretrained download` folder or a tfjs layers model' });
  }
  const weights = readShards(actual, manifest.weightsManifest, file);
  if (!isKerasLayersModel(manifest)) return weights;
  const { weights: mapped, unused } = kerasToSegWeights(weights);
  tf.dispose(unused.map((u) => u.tensor));
  return mapped;
}

/**
 * pdseg's partial load (TRAIN.PRETRAINED_MODEL_DIR): every model weight with a pretrained weight
 * of the same name and shape is loaded; the others keep their initialisation and are reported as
 * `[SKIP] <name>: shape <pretrained> vs <model>` or `[SKIP] <name>: not in <dir>`, then
 * `K/T weights loaded from <dir>`. So a checkpoint with a 21-class head initialises a 1-channel
 * road model everywhere but the head.
 */
export function loadPretrained(model: SegModel, dir: string, log?: Logger): PretrainedReport {
  const weights = readWeightsDir(dir);
  try {
    const byName = new Map(weights.map((w) => [w.name, w.tensor]));
    const report: PretrainedReport = { dir, loaded: [], skipped: [], unused: [], total: model.weights.length };
    const used = new Set<string>();
    for (const w of model.weights) {
      const t = byName.get(w.name);
      if (!t) {
        report.skipped.push({ name: w.name, reason: 'missing', modelShape: [...w.variable.shape] });
        log?.info(`[SKIP] ${w.name}: not in ${dir}`);
        continue;
      }
      used.add(w.name);
      if (t.shape.length !== w.variable.shape.length || t.shape.some((d, i) => d !== w.variable.shape[i]) || t.dtype !== w.variable.dtype) {
        report.skipped.push({ name: w.name, reason: 'shape', pretrainedShape: [...t.shape], modelShape: [...w.variable.shape] });
        log?.info(`[SKIP] ${w.name}: shape ${shapeStr(t.shape)} vs ${shapeStr(w.variable.shape)}`);
        continue;
      }
      w.variable.assign(t);
      report.loaded.push(w.name);
    }
    report.unused = weights.map((w) => w.name).filter((n) => !used.has(n));
    log?.info(`${report.loaded.length}/${report.total} weights loaded from ${dir}`);
    if (report.loaded.length === 0) log?.warn(`no weight of ${dir} matched the model (by name and shape); training starts from the initialisation`);
    return report;
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
}

/** Whether `dir` (or a save interrupted mid-rename, via its `.seg-old` sibling) holds a complete checkpoint. */
export function checkpointExists(dir: string): boolean {
  return resolveDir(dir, isCompleteCheckpoint) !== undefined;
}

export { OLD_SUFFIX };
