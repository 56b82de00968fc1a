/**
 * The configuration schema: the single source of truth for every config key, its type, its
 * default and its documentation. Keys and defaults follow PaddleSeg's legacy `pdseg`
 * (`utils/config.py`); keys that `seg` adds are marked "(seg)" in their description, and defaults
 * that differ from pdseg say so. `docs/config.md` is generated from this file
 * (`node dist/scripts/gen_config_docs.js`).
 *
 * Objects are strict: an unknown key is an error. Resolution (defaults → YAML → KEY VALUE →
 * derived values → validation) lives in resolve.ts.
 */
import { z } from 'zod';
import { LOSS_NAMES, lossWeightKey } from '../losses/names.js';
import { BACKBONE_NAMES } from '../models/backbones/names.js';
import { MAX_SEED } from '../util/rng.js';

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();
const num = () => z.number();
const bool = () => z.boolean();
/** Longest string value (a path, a name): longer ones are mistakes, and would swamp messages. */
export const MAX_STRING_LENGTH = 4096;
const str = () => z.string().max(MAX_STRING_LENGTH);
/** Largest image side (crop, resize) in pixels: beyond it a single image no longer fits a typed array of the step. */
export const MAX_IMAGE_SIDE = 8192;
const side = () => posInt().max(MAX_IMAGE_SIDE);

/** A (w, h) size: two positive integers, or empty (unset). */
const cropSize = () =>
  z
    .array(side())
    .refine((a) => a.length === 0 || a.length === 2, { message: 'expected (width, height): two integers, or () for unset' });
const size2 = () => z.array(side()).refine((a) => a.length === 2, { message: 'expected (width, height): two integers' });

/** SOLVER.LOSS: a list of loss names; a bare string is accepted as a one-element list (pdseg turned it into characters). */
export const lossList = () =>
  z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z.array(z.enum(LOSS_NAMES as [string, ...string[]])).min(1, { message: 'expected at least one loss name' }),
  );

const lossWeights = () =>
  z
    .object(Object.fromEntries(LOSS_NAMES.map((n) => [lossWeightKey(n), num().nonnegative().default(1).describe(`weight of ${n} in the total loss (>= 0)`)])))
    .strict();
/** Weights of a LOSS_STAGES entry: those not given fall back to SOLVER.LOSS_WEIGHT. */
const stageLossWeights = () =>
  z.object(Object.fromEntries(LOSS_NAMES.map((n) => [lossWeightKey(n), num().nonnegative().optional()]))).strict();

const section = <T extends z.ZodRawShape>(shape: T, description: string) => z.object(shape).strict().prefault({} as never).describe(description);

/** pdseg's architectures (its MODEL.MODEL_NAME values); seg builds deeplabv3p only. */
export const PDSEG_MODEL_NAMES = ['deeplabv3p', 'unet', 'icnet', 'pspnet', 'hrnet', 'fast_scnn', 'ocrnet'] as const;

/** Keys of an architecture seg does not build: any value is accepted and ignored (said once, when set). */
const notBuilt = <T extends z.ZodRawShape>(model: string, shape: T) => section(shape, `pdseg's ${model} options: accepted so that pdseg configs load, ignored (seg builds deeplabv3p)`);
const hrnetStage = (modules: number, channels: number[]) =>
  section({ NUM_MODULES: num().default(modules), NUM_CHANNELS: z.array(num()).default(channels) }, 'an HRNet stage');

export const ConfigSchema = z
  .object({
    MEAN: z.array(num()).default([0.5, 0.5, 0.5]).describe('per-channel mean subtracted after scaling pixels to [0, 1]'),
    STD: z.array(num()).default([0.5, 0.5, 0.5]).describe('per-channel standard deviation, applied after MEAN'),
    BATCH_SIZE: posInt().default(1).describe('images per training step; evaluation batches hold up to 3 × BATCH_SIZE training crops of pixels'),
    EVAL_CROP_SIZE: cropSize().default([]).describe('(width, height) every eval/vis image is padded to; must be set'),
    TRAIN_CROP_SIZE: cropSize().default([]).describe('(width, height) of the random training crop; must be set'),
    NUM_TRAINERS: posInt().default(1).describe('pdseg multi-process training; seg trains in one process, so it must stay 1'),
    TRAINER_ID: nonNegInt().default(0).describe('pdseg multi-process trainer id; must stay 0'),
    SEED: z.union([z.null(), nonNegInt().max(MAX_SEED)]).default(null).describe('(seg) seed of every random choice; None picks one and records it; --seed overrides'),

    DATALOADER: section(
      {
        NUM_WORKERS: posInt().default(8).describe('worker threads for decoding and augmentation with --use_mpio (capped at the CPU count)'),
        BUF_SIZE: posInt().default(256).describe('bound of the prefetch queue, in samples'),
      },
      'data loading',
    ),

    DATASET: section(
      {
        DATA_DIR: str().default('./dataset/cityscapes/').describe('folder the file-list paths are relative to'),
        TRAIN_FILE_LIST: str().default('./dataset/cityscapes/train.list').describe('training list: lines `image<SEPARATOR>label`'),
        VAL_FILE_LIST: str().default('./dataset/cityscapes/val.list').describe('validation list, used by eval and --do_eval'),
        TEST_FILE_LIST: str().default('./dataset/cityscapes/test.list').describe('test list (labels optional)'),
        VIS_FILE_LIST: z.union([z.null(), str()]).default(null).describe('list used by `seg vis` (labels optional); None falls back to TEST_FILE_LIST'),
        TRAIN_TOTAL_IMAGES: nonNegInt().default(2975).describe('derived: number of lines in TRAIN_FILE_LIST'),
        VAL_TOTAL_IMAGES: nonNegInt().default(500).describe('derived: number of lines in VAL_FILE_LIST'),
        TEST_TOTAL_IMAGES: nonNegInt().default(500).describe('derived: number of lines in TEST_FILE_LIST'),
        NUM_CLASSES: z.number().int().min(2).default(19).describe('number of classes, background included: at least 2 (a binary task is 2, with a 1-channel head under bce/dice/lovasz_hinge)'),
        CLASS_NAMES: z.union([z.null(), z.array(str())]).default(null).describe('(seg) class names for reports, NUM_CLASSES of them'),
        IMAGE_TYPE: z.enum(['rgb', 'gray', 'rgba']).default('rgb').describe('channels fed to the model'),
        DATA_DIM: posInt().default(3).describe('derived: 3 for rgb and gray, 4 for rgba'),
        SEPARATOR: str().default(' ').describe('separator between image and label paths in the file lists'),
        IGNORE_INDEX: nonNegInt().default(255).describe('label value that contributes to no loss and no metric'),
        PADDING_VALUE: z.array(num()).default([127.5, 127.5, 127.5]).describe('pixel value used to pad images; derived as MEAN*255 unless set explicitly'),
      },
      'dataset',
    ),

    AUG: section(
      {
        AUG_METHOD: z.enum(['unpadding', 'stepscaling', 'rangescaling']).default('unpadding').describe('resize method of the training (and eval) pipeline'),
        FIX_RESIZE_SIZE: size2().default([512, 512]).describe('(width, height) for unpadding'),
        MIN_SCALE_FACTOR: num().positive().default(0.5).describe('stepscaling: smallest scale'),
        MAX_SCALE_FACTOR: num().positive().default(2.0).describe('stepscaling: largest scale'),
        SCALE_STEP_SIZE: num().nonnegative().default(0.25).describe('stepscaling: step between scales (0 = uniform)'),
        MIN_RESIZE_VALUE: side().default(400).describe('rangescaling: smallest long side'),
        MAX_RESIZE_VALUE: side().default(600).describe('rangescaling: largest long side'),
        INF_RESIZE_VALUE: side().default(500).describe('rangescaling: long side at eval/vis time'),
        MIRROR: bool().default(true).describe('random horizontal flip (50%)'),
        FLIP: bool().default(false).describe('random vertical flip'),
        FLIP_RATIO: num().min(0).max(1).default(0.5).describe('probability of the vertical flip, as 1/int(1/FLIP_RATIO)'),
        TO_RGB: bool().default(false).describe('pdseg: feed RGB instead of BGR; seg always feeds RGB (kept for compatibility)'),
        RICH_CROP: section(
          {
            ENABLE: bool().default(false).describe('enable blur, rotation, aspect crop and colour jitter'),
            MAX_ROTATION: num().min(0).max(90).default(15).describe('largest rotation, degrees'),
            MIN_AREA_RATIO: num().min(0).max(1).default(0.5).describe('smallest area kept by the aspect crop (0 disables it)'),
            ASPECT_RATIO: num().min(0).max(1).default(0.33).describe('aspect range (r, 1/r) of the crop (0 disables it)'),
            BRIGHTNESS_JITTER_RATIO: num().min(0).max(1).default(0.5).describe('brightness jitter amplitude'),
            SATURATION_JITTER_RATIO: num().min(0).max(1).default(0.5).describe('saturation jitter amplitude'),
            CONTRAST_JITTER_RATIO: num().min(0).max(1).default(0.5).describe('contrast jitter amplitude'),
            BLUR: bool().default(false).describe('random Gaussian blur'),
            BLUR_RATIO: num().min(0).max(1).default(0.1).describe('probability of the blur, as 1/int(1/BLUR_RATIO)'),
          },
          'rich crop augmentation',
        ),
      },
      'augmentation',
    ),

    TRAIN: section(
      {
        MODEL_SAVE_DIR: str().default('').describe('run folder: resolved config, metrics.jsonl, checkpoints'),
        PRETRAINED_MODEL_DIR: str().default('').describe('checkpoint or pretrained folder to initialise from (partial load by name and shape)'),
        RESUME_MODEL_DIR: str().default('').describe('checkpoint to resume exactly (weights, optimizer, step, RNG, best metric)'),
        SYNC_BATCH_NORM: bool().default(false).describe('pdseg multi-GPU option; seg trains on one device, so it must stay False'),
        SNAPSHOT_EPOCH: posInt().default(10).describe('save a checkpoint every this many epochs (and at the last one)'),
        BEST_METRIC: z
          .string()
          .regex(/^(miou|acc|kappa|iou_\d+)$/, { message: 'expected miou, acc, kappa or iou_<class index>' })
          .default('miou')
          .describe('(seg) metric that picks best_model/: miou, acc, kappa or iou_<k> (e.g. iou_1 for roads)'),
        KEEP_CHECKPOINTS: nonNegInt().default(5).describe('(seg) keep at most this many epoch snapshots (0 = all); final/ and best_model/ are always kept'),
      },
      'training run',
    ),

    SOLVER: section(
      {
        LR: num().nonnegative().default(0.1).describe('base learning rate'),
        LR_POLICY: z.enum(['poly', 'piecewise', 'cosine']).default('poly').describe('learning-rate schedule'),
        OPTIMIZER: z.enum(['sgd', 'adam']).default('sgd').describe('sgd (momentum) or adam'),
        MOMENTUM: num().min(0).max(1).default(0.9).describe('sgd momentum, adam beta1'),
        MOMENTUM2: num().min(0).max(1).default(0.999).describe('adam beta2'),
        POWER: num().nonnegative().default(0.9).describe('poly power'),
        GAMMA: num().positive().default(0.1).describe('piecewise decay factor'),
        DECAY_EPOCH: z.array(posInt()).default([10, 20]).describe('piecewise boundaries, in epochs'),
        WEIGHT_DECAY: num().nonnegative().default(4e-5).describe('coupled L2 regularisation'),
        BEGIN_EPOCH: posInt().default(1).describe('first epoch number (resume sets it)'),
        NUM_EPOCHS: posInt().default(30).describe('last epoch number'),
        LOSS: lossList().default(['softmax_loss']).describe(`losses summed into the total: ${LOSS_NAMES.join(', ')}`),
        LOSS_WEIGHT: lossWeights().prefault({} as never).describe('weight of each loss in the total'),
        LR_WARMUP: bool().default(false).describe('linear warm-up to LR over LR_WARMUP_STEPS: step k (1-based) runs at LR·k/LR_WARMUP_STEPS, as pdseg'),
        LR_WARMUP_STEPS: nonNegInt().default(2000).describe('warm-up length, in steps'),
        CROSS_ENTROPY_WEIGHT: z
          .union([z.null(), z.literal('dynamic'), z.array(num().nonnegative())])
          .default(null)
          .describe("softmax_loss class weights: None, a list of NUM_CLASSES weights, or 'dynamic' (per batch)"),
        LOVASZ: section(
          {
            PER_IMAGE: bool().default(false).describe('(seg) Lovász losses per image, then averaged (the authors\' default); False pools the batch as pdseg'),
            CLASSES: z.enum(['present', 'all']).default('present').describe("(seg) lovasz_softmax_loss averages over classes 'present' in the labels or 'all'"),
          },
          '(seg) Lovász loss options',
        ),
        LOSS_STAGES: z
          .array(
            z
              .object({
                BEGIN_EPOCH: posInt().describe('first epoch of this stage'),
                LOSS: lossList(),
                LOSS_WEIGHT: stageLossWeights().prefault({} as never),
              })
              .strict(),
          )
          .default([])
          .describe('(seg) loss schedule: from BEGIN_EPOCH on, LOSS and LOSS_WEIGHT replace SOLVER.LOSS/LOSS_WEIGHT (e.g. BCE first, Lovász fine-tuning after)'),
        ACCUMULATE_STEPS: posInt().default(1).describe('(seg) split each batch into this many micro-batches and accumulate their gradients (memory)'),
      },
      'optimisation',
    ),

    TEST: section(
      {
        TEST_MODEL: str().default('').describe('checkpoint evaluated by `seg eval` and used by `seg vis`/`seg export`'),
        MODE: z
          .enum(['pad', 'whole', 'slide'])
          .default('pad')
          .describe("(seg) how eval and vis run the model: 'pad' every image padded to EVAL_CROP_SIZE (pdseg); 'whole' each image at its own size, any size; 'slide' overlapping TEST.SLIDE windows, logits averaged (mmseg, PaddleSeg 2.x)"),
        SLIDE: section(
          {
            WINDOW: cropSize().default([]).describe('(width, height) of a window; must be set for TEST.MODE slide'),
            STRIDE: cropSize().default([]).describe('(width, height) between windows; () = two thirds of WINDOW'),
          },
          '(seg) sliding-window evaluation (TEST.MODE slide)',
        ),
        SCALES: z.array(num().positive().max(8)).min(1).default([1.0]).describe("(seg) multi-scale evaluation: the image is also resized by each factor, the class probabilities resized back and averaged; factors other than 1.0 need TEST.MODE whole or slide"),
        FLIP: bool().default(false).describe('(seg) also evaluate the mirrored image and average the class probabilities (what --aug_eval turns on)'),
      },
      'evaluation',
    ),

    MODEL: section(
      {
        MODEL_NAME: z.enum(PDSEG_MODEL_NAMES).default('deeplabv3p').describe("architecture: pdseg's names are accepted, seg builds deeplabv3p only (another is a config error naming this key); pdseg's default is ''"),
        DEFAULT_NORM_TYPE: z.enum(['bn', 'gn']).default('bn').describe('normalisation: batch norm or group norm'),
        MULTI_LOSS_WEIGHT: z.array(num()).default([1.0]).describe('per-output loss weights of multi-output models; DeepLab has one output'),
        DEFAULT_GROUP_NUMBER: posInt().default(32).describe('groups of group norm'),
        DEFAULT_EPSILON: num().positive().default(1e-5).describe('normalisation epsilon'),
        BN_MOMENTUM: num().min(0).max(1).default(0.99).describe('moving-average momentum of the head batch norms'),
        LOGIT_BIAS_INIT: z.enum(['prior', 'zero']).default('prior').describe("initial logit bias of a new model: 'prior' = the class prior of the training labels (log-odds of class 1 for a one-channel head, log-frequencies for softmax; docs/model.md), 'zero' = pdseg's"),
        FP16: bool().default(false).describe('pdseg mixed precision; not available on tfjs CPU backends, must stay False'),
        SCALE_LOSS: z.union([z.literal('DYNAMIC'), num().positive()]).default('DYNAMIC').describe('pdseg FP16 loss scale (unused without FP16)'),
        DEEPLAB: section(
          {
            BACKBONE: str().default('mobilenetv2').describe(`backbone: ${BACKBONE_NAMES.join(', ')}; as pdseg, any name containing 'mobilenet' (but not 'v3') is MobileNetV2; pdseg's xception/resnet/mobilenetv3 are not built (a config error); unset, seg builds mobilenetv2 with a warning (pdseg's default is xception_65)`),
            OUTPUT_STRIDE: z.union([z.literal(8), z.literal(16), z.literal(32)]).default(16).describe('backbone output stride: 8, 16 or 32 (atrous convolution below it)'),
            DEPTH_MULTIPLIER: z.union([z.literal(0.25), z.literal(0.5), z.literal(1.0), z.literal(1.5), z.literal(2.0)]).default(1.0).describe('MobileNetV2 width multiplier'),
            ENCODER_WITH_ASPP: bool().default(true).describe('ASPP encoder (image pooling, 1x1, three atrous branches)'),
            ENABLE_DECODER: bool().default(true).describe('DeepLabv3+ decoder with stride-4 low-level features'),
            ASPP_WITH_SEP_CONV: bool().default(true).describe('separable atrous convolutions in ASPP'),
            DECODER_USE_SEP_CONV: bool().default(true).describe('separable convolutions in the decoder'),
            BACKBONE_LR_MULT_LIST: z.union([z.null(), z.array(num().nonnegative())]).default(null).describe('per-stage learning-rate multipliers of the backbone'),
            ENCODER: section(
              {
                POOLING_STRIDE: z.array(posInt()).default([1, 1]).describe('image-pooling stride (only [1, 1], global pooling, is built)'),
                POOLING_CROP_SIZE: z.union([z.null(), z.array(posInt())]).default(null).describe('image-pooling window (only None, global pooling, is built)'),
                ASPP_WITH_SE: bool().default(false).describe('squeeze-excitation in ASPP (not built; must stay False)'),
                SE_USE_QSIGMOID: bool().default(false).describe('quantised sigmoid for SE (not built; must stay False)'),
                ASPP_CONVS_FILTERS: posInt().default(256).describe('channels of every ASPP branch'),
                ASPP_WITH_CONCAT_PROJECTION: bool().default(true).describe('1x1 projection after concatenating the ASPP branches'),
                ADD_IMAGE_LEVEL_FEATURE: bool().default(true).describe('image-pooling branch in ASPP'),
                ASPP_RATIOS: z.union([z.null(), z.array(posInt())]).default(null).describe('atrous rates of the three ASPP branches; None = 6/12/18 at OS16, 12/24/36 at OS8'),
              },
              'ASPP encoder',
            ),
            DECODER: section(
              {
                USE_SUM_MERGE: bool().default(false).describe('merge decoder features by sum instead of concatenation'),
                CONV_FILTERS: posInt().default(256).describe('channels of the decoder convolutions'),
                OUTPUT_IS_LOGITS: bool().default(false).describe('decoder output is the logits (no separate head); not built, must stay False'),
              },
              'decoder',
            ),
          },
          'DeepLabv3+',
        ),
        UNET: notBuilt('unet', { UPSAMPLE_MODE: str().default('bilinear') }),
        ICNET: notBuilt('icnet', { DEPTH_MULTIPLIER: num().default(0.5), LAYERS: num().default(50) }),
        PSPNET: notBuilt('pspnet', { DEPTH_MULTIPLIER: num().default(1), LAYERS: num().default(50) }),
        HRNET: notBuilt('hrnet and ocrnet', {
          STAGE2: hrnetStage(1, [40, 80]),
          STAGE3: hrnetStage(4, [40, 80, 160]),
          STAGE4: hrnetStage(3, [40, 80, 160, 320]),
        }),
        OCR: notBuilt('ocrnet', { OCR_MID_CHANNELS: num().default(512), OCR_KEY_CHANNELS: num().default(256) }),
      },
      'model',
    ),

    SLIM: section(
      {
        KNOWLEDGE_DISTILL: bool().default(false).describe('pdseg slim: knowledge distillation (not built; must stay False)'),
        KNOWLEDGE_DISTILL_IS_TEACHER: bool().default(false).describe('pdseg slim: this run is the teacher (not built; must stay False)'),
        KNOWLEDGE_DISTILL_TEACHER_MODEL_DIR: str().default('').describe('pdseg slim: teacher model (ignored)'),
        NAS_PORT: num().default(23333).describe("pdseg slim's NAS server port (ignored)"),
        NAS_ADDRESS: str().default('').describe("pdseg slim's NAS server address (ignored)"),
        NAS_SEARCH_STEPS: num().default(100).describe("pdseg slim's NAS steps (ignored)"),
        NAS_START_EVAL_EPOCH: num().default(0).describe("pdseg slim's NAS evaluation start (ignored)"),
        NAS_IS_SERVER: bool().default(true).describe("pdseg slim's NAS role (ignored)"),
        NAS_SPACE_NAME: str().default('').describe("pdseg slim's NAS search space (ignored)"),
        PRUNE_PARAMS: str().default('').describe('pdseg slim: parameters to prune (not built; must stay empty)'),
        PRUNE_RATIOS: z.array(num()).default([]).describe('pdseg slim: pruning ratios (not built; must stay empty)'),
        PREPROCESS: bool().default(false).describe('pdseg slim: preprocessing for quantisation (not built; must stay False)'),
      },
      "pdseg's PaddleSlim options (distillation, NAS, pruning): accepted so that pdseg configs load",
    ),

    FREEZE: section(
      {
        MODEL_FILENAME: str().default('__model__').describe('pdseg inference program file name (kept for compatibility; seg writes model.json)'),
        PARAMS_FILENAME: str().default('__params__').describe('pdseg parameter file name (kept for compatibility; seg writes weight shards)'),
        SAVE_DIR: str().default('freeze_model').describe('folder `seg export` writes the inference model to'),
      },
      'export',
    ),
  })
  .strict();

export type SegConfig = z.output<typeof ConfigSchema>;
export type SegConfigInput = z.input<typeof ConfigSchema>;
