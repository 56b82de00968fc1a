/**
 * Rules that span keys, checked after derivation: pdseg's loss rules (section 5 of the reference),
 * lengths that must agree, and pdseg keys seg accepts for compatibility but does not build.
 */
import type { SegConfig } from './schema.js';
import { headKindOf, LOSS_NAMES, lossWeightKey, oneChannelLosses } from '../losses/names.js';
import { activeLossStage, allLossNames } from '../losses/mix.js';
import { BACKBONE_NAMES, isBackboneName } from '../models/backbones/names.js';
import { configError } from '../util/errors.js';
import { show } from './format.js';

type Origins = ReadonlyMap<string, string>;

function fail(key: string, message: string, hint: string, origins: Origins): never {
  const origin = origins.get(key);
  const from = origin === undefined ? '' : origin === 'command line' ? ' (from the command line)' : ` (from ${origin})`;
  throw configError(`${key}: ${message}${from}`, { key, hint, ...(origin !== undefined && origin !== 'command line' ? { file: origin } : {}) });
}

function checkLossList(key: string, names: readonly string[], cfg: SegConfig, origins: Origins): void {
  const oneChannel = oneChannelLosses(names);
  const multi = names.filter((n) => !oneChannel.includes(n as never));
  if (oneChannel.length > 0 && cfg.DATASET.NUM_CLASSES > 2) {
    fail(
      key,
      `${oneChannel.join(', ')} ${oneChannel.length > 1 ? 'are' : 'is'} only applicable to binary segmentation, but DATASET.NUM_CLASSES is ${cfg.DATASET.NUM_CLASSES}`,
      'use softmax_loss and/or lovasz_softmax_loss for more than 2 classes, or set DATASET.NUM_CLASSES 2',
      origins,
    );
  }
  if (oneChannel.length > 0 && multi.length > 0) {
    fail(
      key,
      `cannot mix one-channel losses (${oneChannel.join(', ')}) with multi-channel ones (${multi.join(', ')}): the first need a 1-channel head, the second NUM_CLASSES channels`,
      "for binary tasks use e.g. ['lovasz_hinge_loss','bce_loss']; for multi-class ['lovasz_softmax_loss','softmax_loss']",
      origins,
    );
  }
}

/**
 * Loss weights: each active mix (SOLVER.LOSS, every LOSS_STAGES entry) must weigh more than 0 in
 * all; a weight set for a loss no mix uses has no effect, which the returned warning says.
 */
function checkLossWeights(cfg: SegConfig, origins: Origins): string[] {
  for (const begin of [undefined, ...cfg.SOLVER.LOSS_STAGES.map((s) => s.BEGIN_EPOCH)]) {
    const mix = activeLossStage(cfg, begin);
    if (mix.terms.every((t) => t.weight === 0)) {
      const key = mix.stage === null ? 'SOLVER.LOSS_WEIGHT' : 'SOLVER.LOSS_STAGES';
      fail(key, `every loss of ${mix.describe} has weight 0, so nothing would be trained`, 'give at least one loss of the mix a weight above 0', origins);
    }
  }
  const used = new Set<string>(allLossNames(cfg));
  const warnings: string[] = [];
  for (const name of LOSS_NAMES) {
    const key = `SOLVER.LOSS_WEIGHT.${lossWeightKey(name)}`;
    if (origins.has(key) && !used.has(name)) warnings.push(`${key} is set but ${name} is in neither SOLVER.LOSS nor any SOLVER.LOSS_STAGES entry: the weight has no effect`);
  }
  cfg.SOLVER.LOSS_STAGES.forEach((stage, i) => {
    for (const [k, w] of Object.entries(stage.LOSS_WEIGHT)) {
      if (w !== undefined && !stage.LOSS.some((n) => lossWeightKey(n) === k)) warnings.push(`SOLVER.LOSS_STAGES[${i}] sets LOSS_WEIGHT ${k} but its LOSS (${stage.LOSS.join(', ')}) does not include it: the weight has no effect`);
    }
  });
  return warnings;
}

/** What a valid config still says: warnings (probably not what was meant) and notes (what seg does instead). */
export interface ConfigMessages {
  warnings: string[];
  notes: string[];
}

/** The prefixes of pdseg keys for models seg does not build, or tools it does not run: any value, ignored. */
const IGNORED = ['MODEL.UNET.', 'MODEL.ICNET.', 'MODEL.PSPNET.', 'MODEL.HRNET.', 'MODEL.OCR.', 'SLIM.NAS_', 'SLIM.KNOWLEDGE_DISTILL_TEACHER_MODEL_DIR'];

/** The architecture: pdseg's names load, only deeplabv3p with a MobileNetV2 backbone is built. */
function checkModel(cfg: SegConfig, origins: Origins, messages: ConfigMessages): void {
  const name = cfg.MODEL.MODEL_NAME;
  if (name !== 'deeplabv3p') {
    fail('MODEL.MODEL_NAME', `${name} is a pdseg architecture seg does not build; seg builds deeplabv3p (DeepLabv3+ with a MobileNetV2 backbone)`, 'train this config with PaddleSeg, or set MODEL.MODEL_NAME deeplabv3p (and MODEL.DEEPLAB.BACKBONE mobilenetv2) to train seg\'s model on the same data', origins);
  }
  const backbone = cfg.MODEL.DEEPLAB.BACKBONE;
  if (!isBackboneName(backbone)) {
    fail('MODEL.DEEPLAB.BACKBONE', `${backbone} is a pdseg backbone seg does not build; seg builds ${BACKBONE_NAMES.join(', ')} (pdseg's 'mobilenet' names)`, 'set MODEL.DEEPLAB.BACKBONE mobilenetv2: a different model from the one this config asks for', origins);
  }
  if (!origins.has('MODEL.DEEPLAB.BACKBONE')) {
    messages.warnings.push('MODEL.DEEPLAB.BACKBONE is not set: seg builds mobilenetv2, where pdseg would build its default xception_65 (set MODEL.DEEPLAB.BACKBONE mobilenetv2 to say so)');
  }
  if (cfg.TRAIN.SYNC_BATCH_NORM) messages.notes.push('TRAIN.SYNC_BATCH_NORM True: seg trains in one process on one device, where batch norm is already synchronised');
  const ignored = [...origins.keys()].filter((k) => IGNORED.some((p) => k.startsWith(p)));
  if (ignored.length > 0) messages.notes.push(`ignored (pdseg options of models or tools seg does not build): ${ignored.join(', ')}`);
}

/** Checks every cross-key rule (throws a config error naming the key); returns what a valid config still says. */
export function validateConfig(cfg: SegConfig, origins: Origins): ConfigMessages {
  const messages: ConfigMessages = { warnings: [], notes: [] };
  checkModel(cfg, origins, messages);
  const C = cfg.DATASET.NUM_CLASSES;
  const D = cfg.DATASET.DATA_DIM;

  // Crop sizes: pdseg's check_and_infer raises when either is unset.
  for (const key of ['TRAIN_CROP_SIZE', 'EVAL_CROP_SIZE'] as const) {
    if (cfg[key].length !== 2) fail(key, 'must be set to (width, height)', `set ${key} (512, 512) or similar in the config`, origins);
  }
  for (const key of ['MEAN', 'STD'] as const) {
    if (cfg[key].length !== D) fail(key, `has ${cfg[key].length} values but DATASET.IMAGE_TYPE ${cfg.DATASET.IMAGE_TYPE} has ${D} channels`, `give ${key} ${D} values`, origins);
  }
  if (cfg.STD.some((s) => s === 0)) fail('STD', 'must not contain 0', 'use 1 for channels that are not scaled', origins);
  if (cfg.DATASET.PADDING_VALUE.length !== D) {
    fail('DATASET.PADDING_VALUE', `has ${cfg.DATASET.PADDING_VALUE.length} values but images have ${D} channels`, `give ${D} values or leave it unset (MEAN*255)`, origins);
  }
  if (cfg.DATASET.IGNORE_INDEX < C) {
    fail('DATASET.IGNORE_INDEX', `${cfg.DATASET.IGNORE_INDEX} is a class index (NUM_CLASSES is ${C})`, 'use a value outside [0, NUM_CLASSES-1], usually 255', origins);
  }
  if (cfg.DATASET.CLASS_NAMES !== null && cfg.DATASET.CLASS_NAMES.length !== C) {
    fail('DATASET.CLASS_NAMES', `has ${cfg.DATASET.CLASS_NAMES.length} names but NUM_CLASSES is ${C}`, 'give one name per class, background included', origins);
  }

  // Losses (pdseg section 5, with errors instead of warnings).
  checkLossList('SOLVER.LOSS', cfg.SOLVER.LOSS, cfg, origins);
  const baseOneChannel = headKindOf(cfg.SOLVER.LOSS) === 'one-channel';
  let prevBegin = 0;
  cfg.SOLVER.LOSS_STAGES.forEach((stage, i) => {
    const key = `SOLVER.LOSS_STAGES`;
    checkLossList(key, stage.LOSS, cfg, origins);
    const stageOneChannel = headKindOf(stage.LOSS) === 'one-channel';
    if (stageOneChannel !== baseOneChannel) {
      fail(key, `stage ${i} (${stage.LOSS.join(', ')}) needs a ${stageOneChannel ? '1' : `${C}`}-channel head but SOLVER.LOSS (${cfg.SOLVER.LOSS.join(', ')}) builds a ${baseOneChannel ? '1' : `${C}`}-channel one`, 'all stages must use losses of the same head type (bce/dice/lovasz_hinge, or softmax/lovasz_softmax)', origins);
    }
    if (stage.BEGIN_EPOCH <= prevBegin) fail(key, `stage ${i}: BEGIN_EPOCH ${stage.BEGIN_EPOCH} must be greater than the previous stage's (${prevBegin})`, 'list stages in increasing BEGIN_EPOCH order', origins);
    prevBegin = stage.BEGIN_EPOCH;
  });
  messages.warnings.push(...checkLossWeights(cfg, origins));
  const cew = cfg.SOLVER.CROSS_ENTROPY_WEIGHT;
  if (Array.isArray(cew) && cew.length !== C) {
    fail('SOLVER.CROSS_ENTROPY_WEIGHT', `has ${cew.length} weights but NUM_CLASSES is ${C}`, 'give one weight per class', origins);
  }
  const best = /^iou_(\d+)$/.exec(cfg.TRAIN.BEST_METRIC);
  if (best && Number(best[1]) >= C) {
    fail('TRAIN.BEST_METRIC', `${cfg.TRAIN.BEST_METRIC} names class ${best[1]} but NUM_CLASSES is ${C}`, `use iou_0 … iou_${C - 1} or miou`, origins);
  }

  // Ranges that must be ordered.
  if (cfg.AUG.MIN_SCALE_FACTOR > cfg.AUG.MAX_SCALE_FACTOR) fail('AUG.MIN_SCALE_FACTOR', `${cfg.AUG.MIN_SCALE_FACTOR} is above AUG.MAX_SCALE_FACTOR ${cfg.AUG.MAX_SCALE_FACTOR}`, 'swap them', origins);
  if (cfg.AUG.MIN_RESIZE_VALUE > cfg.AUG.MAX_RESIZE_VALUE) fail('AUG.MIN_RESIZE_VALUE', `${cfg.AUG.MIN_RESIZE_VALUE} is above AUG.MAX_RESIZE_VALUE ${cfg.AUG.MAX_RESIZE_VALUE}`, 'swap them', origins);
  const de = cfg.SOLVER.DECAY_EPOCH;
  if (de.some((e, i) => i > 0 && e <= (de[i - 1] ?? 0))) fail('SOLVER.DECAY_EPOCH', `must increase, got ${show(de)}`, 'list the epochs in increasing order', origins);
  if (cfg.SOLVER.BEGIN_EPOCH > cfg.SOLVER.NUM_EPOCHS) fail('SOLVER.BEGIN_EPOCH', `${cfg.SOLVER.BEGIN_EPOCH} is after SOLVER.NUM_EPOCHS ${cfg.SOLVER.NUM_EPOCHS}`, 'raise NUM_EPOCHS', origins);
  if (cfg.BATCH_SIZE % cfg.SOLVER.ACCUMULATE_STEPS !== 0) {
    fail('SOLVER.ACCUMULATE_STEPS', `${cfg.SOLVER.ACCUMULATE_STEPS} does not divide BATCH_SIZE ${cfg.BATCH_SIZE}`, 'choose a divisor of BATCH_SIZE', origins);
  }
  const t = cfg.TEST;
  if (t.MODE === 'slide' && t.SLIDE.WINDOW.length !== 2) fail('TEST.SLIDE.WINDOW', 'must be set to (width, height) for TEST.MODE slide', 'e.g. TEST.SLIDE.WINDOW (512, 512): the size the model was trained at suits it', origins);
  if (t.SLIDE.STRIDE.some((s, i) => s > (t.SLIDE.WINDOW[i] ?? Infinity))) fail('TEST.SLIDE.STRIDE', `${show(t.SLIDE.STRIDE)} is larger than TEST.SLIDE.WINDOW ${show(t.SLIDE.WINDOW)}: windows would leave gaps`, 'use a stride at most the window size (two thirds of it is usual)', origins);
  if (t.MODE === 'pad' && t.SCALES.some((s) => s !== 1)) fail('TEST.SCALES', `${show(t.SCALES)} needs images at any size, but TEST.MODE pad pads every image to EVAL_CROP_SIZE`, 'set TEST.MODE whole (or slide) for multi-scale evaluation', origins);
  if (cfg.MODEL.MULTI_LOSS_WEIGHT.length < 1) fail('MODEL.MULTI_LOSS_WEIGHT', 'needs one weight (DeepLab has one output)', 'use [1.0]', origins);

  // pdseg keys seg accepts so that pdseg configs load, but does not build: they must keep their defaults.
  const unsupported: Array<[string, boolean, string]> = [
    ['NUM_TRAINERS', cfg.NUM_TRAINERS === 1, 'seg trains in one process; use DATALOADER.NUM_WORKERS and --use_mpio for parallel loading'],
    ['TRAINER_ID', cfg.TRAINER_ID === 0, 'seg trains in one process'],
    ['MODEL.FP16', !cfg.MODEL.FP16, 'tfjs CPU backends compute in float32 only'],
    ['MODEL.DEEPLAB.BACKBONE_LR_MULT_LIST', cfg.MODEL.DEEPLAB.BACKBONE_LR_MULT_LIST === null, 'per-stage learning rates are not built; remove the key'],
    ['MODEL.DEEPLAB.ENCODER.POOLING_STRIDE', cfg.MODEL.DEEPLAB.ENCODER.POOLING_STRIDE.join(',') === '1,1', 'only global image pooling is built'],
    ['MODEL.DEEPLAB.ENCODER.POOLING_CROP_SIZE', cfg.MODEL.DEEPLAB.ENCODER.POOLING_CROP_SIZE === null, 'only global image pooling is built'],
    ['MODEL.DEEPLAB.ENCODER.ASPP_WITH_SE', !cfg.MODEL.DEEPLAB.ENCODER.ASPP_WITH_SE, 'squeeze-excitation ASPP is not built'],
    ['MODEL.DEEPLAB.ENCODER.SE_USE_QSIGMOID', !cfg.MODEL.DEEPLAB.ENCODER.SE_USE_QSIGMOID, 'squeeze-excitation ASPP is not built'],
    ['MODEL.DEEPLAB.DECODER.OUTPUT_IS_LOGITS', !cfg.MODEL.DEEPLAB.DECODER.OUTPUT_IS_LOGITS, 'the head is always a separate 1x1 convolution'],
    ['SLIM.KNOWLEDGE_DISTILL', !cfg.SLIM.KNOWLEDGE_DISTILL, 'knowledge distillation (PaddleSlim) is not built'],
    ['SLIM.KNOWLEDGE_DISTILL_IS_TEACHER', !cfg.SLIM.KNOWLEDGE_DISTILL_IS_TEACHER, 'knowledge distillation (PaddleSlim) is not built'],
    ['SLIM.PRUNE_PARAMS', cfg.SLIM.PRUNE_PARAMS === '', 'pruning (PaddleSlim) is not built'],
    ['SLIM.PRUNE_RATIOS', cfg.SLIM.PRUNE_RATIOS.length === 0, 'pruning (PaddleSlim) is not built'],
    ['SLIM.PREPROCESS', !cfg.SLIM.PREPROCESS, 'quantisation (PaddleSlim) is not built'],
  ];
  for (const [key, ok, why] of unsupported) {
    if (!ok) fail(key, 'is a pdseg option that seg does not build', `remove it or keep its default: ${why}`, origins);
  }
  return messages;
}
