/**
 * The public library API of `seg` (`import { ... } from 'seg'`), documented in the README
 * ("Library API"); the CLI is built on the same functions. Everything else under src/ is internal
 * (tests import it by path). Call `initBackend()` first: it picks the compute backend.
 */
import * as tf from '@tensorflow/tfjs-core';

// Production mode from the first import (initBackend sets it too): tfjs's cpu backend otherwise
// prints an "install the node backend" banner the first time a caller computes before initBackend.
tf.env().set('PROD', true);

// Set-up and errors.
export { initBackend, type BackendChoice, type BackendInfo } from './backend/index.js';
export { SegError, EXIT_CODES, type ErrorKind } from './util/errors.js';
export { quietContext, type RunContext, type Logger, type ProgressFactory } from './util/context.js';

// Config: the schema (every key, type and default) and pdseg-style resolution.
export { ConfigSchema, type SegConfig } from './config/schema.js';
export { resolveConfig, type ResolvedConfig, type ResolveOptions } from './config/resolve.js';

// Losses: each as a function of logits and labels, and the mix a config describes.
export { softmaxLoss } from './losses/softmax_loss.js';
export { bceLoss } from './losses/bce_loss.js';
export { diceLoss } from './losses/dice_loss.js';
export { lovaszHingeLoss } from './losses/lovasz_hinge_loss.js';
export { lovaszSoftmaxLoss } from './losses/lovasz_softmax_loss.js';
export { LOSS_NAMES, headKindOf, type LossName, type Head } from './losses/names.js';
export { buildLoss, type BuiltLoss, type LossTotals } from './losses/build.js';
export type { LossFn, LossOptions } from './losses/types.js';

// Models and checkpoints.
export { buildModel, headChannels, type SegModel, type NamedVariable } from './models/build.js';
export { BACKBONE_NAMES, type BackboneName } from './models/backbones/names.js';
export { saveCheckpoint, loadCheckpoint, restoreWeights, loadPretrained, type CheckpointData, type LoadedCheckpoint, type PretrainedReport } from './checkpoint/index.js';
export { loadModel } from './train/load_model.js';
export { exportModel, type ExportResult } from './export/export.js';

// Training, prediction and evaluation.
export { train, type TrainOptions, type TrainResult } from './train/trainer.js';
export { predict } from './train/step.js';
export { evaluate, type EvaluateOptions, type EvaluateResult } from './train/evaluate.js';
export { probabilities, inferProbabilities, inferOptions, type InferOptions } from './train/infer.js';
export { ConfusionMatrix, type SegMetrics } from './metrics/confusion.js';

// Data: file lists, images and labels, the loader, seg check, datasets (none of it loads tfjs).
export { readSplit, parseFileList, type ListEntry, type Split } from './data/file_list.js';
export { readImage, readLabel, type DecodedImage, type DecodedLabel, type ImageType } from './data/image_io.js';
export { DataLoader, type Batch, type LoaderOptions } from './data/loader.js';
export { checkDataset, type CheckReport } from './data/check.js';
export { makeDataset, MAKE_NAMES, type MakeName } from './data/datasets/make.js';
export { fetchDataset, type FetchResult } from './data/datasets/fetch.js';
export { createDatasetLists } from './data/datasets/list.js';
