/**
 * Checkpoints (atomic save, verified load, strict restore), pretrained partial loading, Keras
 * MobileNetV2 name mapping, and pretrained downloads. See docs/model.md.
 */
export {
  saveCheckpoint,
  loadCheckpoint,
  restoreWeights,
  loadPretrained,
  readWeightsDir,
  checkpointExists,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  WEIGHTS_FORMAT,
  type CheckpointData,
  type LoadedCheckpoint,
  type OptimizerCheckpoint,
  type PretrainedReport,
  type SaveOptions,
  type NamedTensor,
  type SaveStage,
} from './checkpoint.js';
export { kerasToSegName, kerasToSegWeights, isKerasLayersModel } from './keras.js';
export { downloadPretrained, PRETRAINED, PDSEG_PADDLE_NAMES, type PretrainedEntry, type DownloadPretrainedOptions, type DownloadPretrainedResult } from './pretrained.js';
export { readShards, writeShards, SHARD_BYTES } from './weights_io.js';
