/**
 * The public library API of `seg` (`import { ... } from 'seg'`). The CLI is built on the same
 * functions. Everything here works with the tfjs backend the caller has set up.
 */
export { ConfigSchema, type SegConfig } from './config/schema.js';
export { resolveConfig, type ResolvedConfig, type ResolveOptions } from './config/resolve.js';
export { SegError, EXIT_CODES, type ErrorKind } from './util/errors.js';
export { initBackend, type BackendChoice, type BackendInfo } from './backend/index.js';
export { ConfusionMatrix, type SegMetrics } from './metrics/confusion.js';
export { softmaxLoss } from './losses/softmax_loss.js';
export { bceLoss } from './losses/bce_loss.js';
export { diceLoss } from './losses/dice_loss.js';
export { lovaszHingeLoss } from './losses/lovasz_hinge_loss.js';
export { lovaszSoftmaxLoss } from './losses/lovasz_softmax_loss.js';
export { LOSSES, LOSS_NAMES, type LossName } from './losses/registry.js';
export { buildLoss, activeLossStage, type BuiltLoss, type LossTotals, type ActiveLossStage, type LossTerm, type LossConfig } from './losses/build.js';
export type { LossFn, LossOptions } from './losses/types.js';
export { releaseLossBuffers } from './losses/workspace.js';
export { buildModel, deeplabOptionsFromConfig, DeepLabV3Plus, type DeepLabOptions, type SegModel, type NamedVariable } from './models/build.js';
export { BACKBONES, BACKBONE_NAMES, type BackboneName } from './models/backbones/registry.js';
export { currentOps, setOps, referenceOps, type OpSet } from './ops/index.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  restoreWeights,
  loadPretrained,
  downloadPretrained,
  PRETRAINED,
  type CheckpointData,
  type LoadedCheckpoint,
  type PretrainedReport,
} from './checkpoint/index.js';
export { exportModel, type ExportResult } from './export/export.js';
// Data: file lists, image IO, augmentation, the loader, seg check, datasets (never imports tfjs).
export { readSplit, parseFileList, listFileFor, type ListEntry, type Split } from './data/file_list.js';
export { readImage, readLabel, writeImage, writeLabelPng, writeSvgAsPng, svgToPng, encodeImage, encodeLabelPng, type RawImage, type DecodedImage, type DecodedLabel, type ImageType } from './data/image_io.js';
export { vocPalette, colorize, overlay, type Rgb } from './data/palette.js';
export { augmentTrain, prepareEval, predictionToOriginal, pipelineOptions, type PipelineOptions, type AugmentedSample, type EvalSample } from './data/augment.js';
export { DataLoader, trainBatches, evalBatches, stepsPerEpoch, defaultWorkers, epochOrder, sampleSeed, type Batch, type EvalBatch, type EvalSampleInfo, type LoaderOptions } from './data/loader.js';
export { checkDataset, formatReport, detailLog, type CheckReport, type CheckItem, type SplitReport } from './data/check.js';
export { ensureDataset, missingDatasetHint } from './data/datasets/ensure.js';
export { makeDataset, MAKE_NAMES, type MakeName, type Manifest } from './data/datasets/make.js';
export { fetchDataset, type FetchResult } from './data/datasets/fetch.js';
export { createDatasetLists } from './data/datasets/list.js';
