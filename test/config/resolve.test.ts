import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { SegError } from '../../src/util/errors.js';
import { REPO_ROOT, tmpDir } from '../helpers/cli.js';

const ROAD = path.join(REPO_ROOT, 'configs', 'lovasz_hinge_road.yaml');
const VOC = path.join(REPO_ROOT, 'configs', 'lovasz_softmax_voc.yaml');

function expectError(fn: () => unknown, kind: string, pattern: RegExp): SegError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SegError, `expected a SegError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected an error');
}

test('every default is pdseg\'s (utils/config.py), except the documented seg changes', () => {
  const d = ConfigSchema.parse({});
  assert.deepEqual(d.MEAN, [0.5, 0.5, 0.5]);
  assert.deepEqual(d.STD, [0.5, 0.5, 0.5]);
  assert.equal(d.BATCH_SIZE, 1);
  assert.deepEqual(d.EVAL_CROP_SIZE, []);
  assert.deepEqual(d.TRAIN_CROP_SIZE, []);
  assert.equal(d.NUM_TRAINERS, 1);
  assert.equal(d.TRAINER_ID, 0);
  assert.deepEqual(d.DATALOADER, { NUM_WORKERS: 8, BUF_SIZE: 256 });
  assert.deepEqual(d.DATASET, {
    DATA_DIR: './dataset/cityscapes/',
    TRAIN_FILE_LIST: './dataset/cityscapes/train.list',
    VAL_FILE_LIST: './dataset/cityscapes/val.list',
    TEST_FILE_LIST: './dataset/cityscapes/test.list',
    VIS_FILE_LIST: null,
    TRAIN_TOTAL_IMAGES: 2975,
    VAL_TOTAL_IMAGES: 500,
    TEST_TOTAL_IMAGES: 500,
    NUM_CLASSES: 19,
    CLASS_NAMES: null,
    IMAGE_TYPE: 'rgb',
    DATA_DIM: 3,
    SEPARATOR: ' ',
    IGNORE_INDEX: 255,
    PADDING_VALUE: [127.5, 127.5, 127.5],
  });
  assert.deepEqual(d.AUG, {
    AUG_METHOD: 'unpadding',
    FIX_RESIZE_SIZE: [512, 512],
    MIN_SCALE_FACTOR: 0.5,
    MAX_SCALE_FACTOR: 2.0,
    SCALE_STEP_SIZE: 0.25,
    MIN_RESIZE_VALUE: 400,
    MAX_RESIZE_VALUE: 600,
    INF_RESIZE_VALUE: 500,
    MIRROR: true,
    FLIP: false,
    FLIP_RATIO: 0.5,
    TO_RGB: false,
    RICH_CROP: {
      ENABLE: false,
      MAX_ROTATION: 15,
      MIN_AREA_RATIO: 0.5,
      ASPECT_RATIO: 0.33,
      BRIGHTNESS_JITTER_RATIO: 0.5,
      SATURATION_JITTER_RATIO: 0.5,
      CONTRAST_JITTER_RATIO: 0.5,
      BLUR: false,
      BLUR_RATIO: 0.1,
    },
  });
  assert.deepEqual(d.TRAIN, {
    MODEL_SAVE_DIR: '',
    PRETRAINED_MODEL_DIR: '',
    RESUME_MODEL_DIR: '',
    SYNC_BATCH_NORM: false,
    SNAPSHOT_EPOCH: 10,
    BEST_METRIC: 'miou',
    KEEP_CHECKPOINTS: 5,
  });
  const s = d.SOLVER;
  assert.equal(s.LR, 0.1);
  assert.equal(s.LR_POLICY, 'poly');
  assert.equal(s.OPTIMIZER, 'sgd');
  assert.equal(s.MOMENTUM, 0.9);
  assert.equal(s.MOMENTUM2, 0.999);
  assert.equal(s.POWER, 0.9);
  assert.equal(s.GAMMA, 0.1);
  assert.deepEqual(s.DECAY_EPOCH, [10, 20]);
  assert.equal(s.WEIGHT_DECAY, 4e-5);
  assert.equal(s.BEGIN_EPOCH, 1);
  assert.equal(s.NUM_EPOCHS, 30);
  assert.deepEqual(s.LOSS, ['softmax_loss']);
  assert.deepEqual(s.LOSS_WEIGHT, { SOFTMAX_LOSS: 1, DICE_LOSS: 1, BCE_LOSS: 1, LOVASZ_HINGE_LOSS: 1, LOVASZ_SOFTMAX_LOSS: 1 });
  assert.equal(s.LR_WARMUP, false);
  assert.equal(s.LR_WARMUP_STEPS, 2000);
  assert.equal(s.CROSS_ENTROPY_WEIGHT, null);
  assert.deepEqual(s.LOVASZ, { PER_IMAGE: false, CLASSES: 'present' });
  assert.deepEqual(s.LOSS_STAGES, []);
  assert.equal(s.ACCUMULATE_STEPS, 1);
  assert.deepEqual(d.TEST, { TEST_MODEL: '', MODE: 'pad', SLIDE: { WINDOW: [], STRIDE: [] }, SCALES: [1.0], FLIP: false }); // seg adds all but TEST_MODEL
  const m = d.MODEL;
  assert.equal(m.MODEL_NAME, 'deeplabv3p'); // pdseg: '' (seg builds one model)
  assert.equal(m.DEFAULT_NORM_TYPE, 'bn');
  assert.deepEqual(m.MULTI_LOSS_WEIGHT, [1.0]);
  assert.equal(m.DEFAULT_GROUP_NUMBER, 32);
  assert.equal(m.DEFAULT_EPSILON, 1e-5);
  assert.equal(m.BN_MOMENTUM, 0.99);
  assert.equal(m.FP16, false);
  assert.equal(m.SCALE_LOSS, 'DYNAMIC');
  assert.deepEqual(m.DEEPLAB, {
    BACKBONE: 'mobilenetv2', // pdseg: xception_65 (not built in seg)
    OUTPUT_STRIDE: 16,
    DEPTH_MULTIPLIER: 1.0,
    ENCODER_WITH_ASPP: true,
    ENABLE_DECODER: true,
    ASPP_WITH_SEP_CONV: true,
    DECODER_USE_SEP_CONV: true,
    BACKBONE_LR_MULT_LIST: null,
    ENCODER: {
      POOLING_STRIDE: [1, 1],
      POOLING_CROP_SIZE: null,
      ASPP_WITH_SE: false,
      SE_USE_QSIGMOID: false,
      ASPP_CONVS_FILTERS: 256,
      ASPP_WITH_CONCAT_PROJECTION: true,
      ADD_IMAGE_LEVEL_FEATURE: true,
      ASPP_RATIOS: null,
    },
    DECODER: { USE_SUM_MERGE: false, CONV_FILTERS: 256, OUTPUT_IS_LOGITS: false },
  });
  // Models seg does not build: pdseg's keys and defaults, so that pdseg configs load.
  assert.deepEqual(m.UNET, { UPSAMPLE_MODE: 'bilinear' });
  assert.deepEqual(m.ICNET, { DEPTH_MULTIPLIER: 0.5, LAYERS: 50 });
  assert.deepEqual(m.PSPNET, { DEPTH_MULTIPLIER: 1, LAYERS: 50 });
  assert.deepEqual(m.HRNET, {
    STAGE2: { NUM_MODULES: 1, NUM_CHANNELS: [40, 80] },
    STAGE3: { NUM_MODULES: 4, NUM_CHANNELS: [40, 80, 160] },
    STAGE4: { NUM_MODULES: 3, NUM_CHANNELS: [40, 80, 160, 320] },
  });
  assert.deepEqual(m.OCR, { OCR_MID_CHANNELS: 512, OCR_KEY_CHANNELS: 256 });
  assert.deepEqual(d.SLIM, {
    KNOWLEDGE_DISTILL_IS_TEACHER: false,
    KNOWLEDGE_DISTILL: false,
    KNOWLEDGE_DISTILL_TEACHER_MODEL_DIR: '',
    NAS_PORT: 23333,
    NAS_ADDRESS: '',
    NAS_SEARCH_STEPS: 100,
    NAS_START_EVAL_EPOCH: 0,
    NAS_IS_SERVER: true,
    NAS_SPACE_NAME: '',
    PRUNE_PARAMS: '',
    PRUNE_RATIOS: [],
    PREPROCESS: false,
  });
  assert.deepEqual(d.FREEZE, { MODEL_FILENAME: '__model__', PARAMS_FILENAME: '__params__', SAVE_DIR: 'freeze_model' });
  assert.equal(d.SEED, null);
});

test('the shipped Lovász hinge config resolves to pdseg\'s values', () => {
  const { config: c } = resolveConfig({ cfgFile: ROAD, cwd: REPO_ROOT });
  assert.deepEqual(c.EVAL_CROP_SIZE, [1025, 1025]);
  assert.deepEqual(c.TRAIN_CROP_SIZE, [769, 769]);
  assert.equal(c.AUG.AUG_METHOD, 'stepscaling'); // from u"stepscaling"
  assert.deepEqual(c.AUG.FIX_RESIZE_SIZE, [640, 640]);
  assert.equal(c.AUG.INF_RESIZE_VALUE, 500);
  assert.equal(c.AUG.MAX_RESIZE_VALUE, 600);
  assert.equal(c.AUG.MIN_RESIZE_VALUE, 400);
  assert.equal(c.AUG.MAX_SCALE_FACTOR, 2.0);
  assert.equal(c.AUG.MIN_SCALE_FACTOR, 0.5);
  assert.equal(c.AUG.SCALE_STEP_SIZE, 0.25);
  assert.equal(c.AUG.FLIP, true);
  assert.equal(c.AUG.MIRROR, true);
  assert.equal(c.BATCH_SIZE, 24);
  assert.equal(c.DATASET.DATA_DIR, './dataset/MiniDeepGlobeRoadExtraction/');
  assert.equal(c.DATASET.IMAGE_TYPE, 'rgb');
  assert.equal(c.DATASET.NUM_CLASSES, 2);
  assert.equal(c.DATASET.TRAIN_FILE_LIST, 'dataset/MiniDeepGlobeRoadExtraction/train.txt');
  assert.equal(c.DATASET.VAL_FILE_LIST, 'dataset/MiniDeepGlobeRoadExtraction/val.txt');
  assert.equal(c.DATASET.TEST_FILE_LIST, 'dataset/MiniDeepGlobeRoadExtraction/val.txt');
  assert.equal(c.DATASET.VIS_FILE_LIST, 'dataset/MiniDeepGlobeRoadExtraction/val.txt');
  assert.equal(c.DATASET.IGNORE_INDEX, 255);
  assert.equal(c.DATASET.SEPARATOR, '|');
  assert.deepEqual(c.FREEZE, { MODEL_FILENAME: 'model', PARAMS_FILENAME: 'params', SAVE_DIR: 'freeze_model' });
  assert.equal(c.MODEL.DEFAULT_NORM_TYPE, 'bn');
  assert.equal(c.MODEL.MODEL_NAME, 'deeplabv3p');
  assert.equal(c.MODEL.DEEPLAB.BACKBONE, 'mobilenetv2');
  assert.equal(c.MODEL.DEEPLAB.DEPTH_MULTIPLIER, 1.0);
  assert.equal(c.MODEL.DEEPLAB.ENCODER_WITH_ASPP, false);
  assert.equal(c.MODEL.DEEPLAB.ENABLE_DECODER, false);
  assert.equal(c.TEST.TEST_MODEL, './saved_model/lovasz_hinge_deeplabv3p_mobilenet_road/final');
  assert.equal(c.TRAIN.MODEL_SAVE_DIR, './saved_model/lovasz_hinge_deeplabv3p_mobilenet_road/');
  assert.equal(c.TRAIN.PRETRAINED_MODEL_DIR, './pretrained_model/deeplabv3p_mobilenetv2-1-0_bn_coco/');
  assert.equal(c.TRAIN.SNAPSHOT_EPOCH, 10);
  assert.equal(c.SOLVER.LR, 0.1);
  assert.equal(c.SOLVER.LR_POLICY, 'poly');
  assert.equal(c.SOLVER.OPTIMIZER, 'sgd');
  assert.equal(c.SOLVER.NUM_EPOCHS, 300);
  assert.deepEqual(c.SOLVER.LOSS, ['lovasz_hinge_loss', 'bce_loss']);
  assert.equal(c.SOLVER.LOSS_WEIGHT['LOVASZ_HINGE_LOSS'], 0.5);
  assert.equal(c.SOLVER.LOSS_WEIGHT['BCE_LOSS'], 0.5);
  assert.equal(c.SOLVER.LOSS_WEIGHT['SOFTMAX_LOSS'], 1);
});

test('the shipped Lovász-Softmax config resolves to pdseg\'s values', () => {
  const { config: c } = resolveConfig({ cfgFile: VOC, cwd: REPO_ROOT });
  assert.deepEqual(c.TRAIN_CROP_SIZE, [500, 500]);
  assert.deepEqual(c.EVAL_CROP_SIZE, [500, 500]);
  assert.equal(c.AUG.AUG_METHOD, 'stepscaling');
  assert.deepEqual(c.AUG.FIX_RESIZE_SIZE, [500, 500]);
  assert.equal(c.AUG.MAX_SCALE_FACTOR, 1.25);
  assert.equal(c.AUG.MIN_SCALE_FACTOR, 0.75);
  assert.equal(c.AUG.SCALE_STEP_SIZE, 0.05);
  assert.equal(c.AUG.MIRROR, true);
  assert.equal(c.AUG.FLIP, true);
  assert.equal(c.BATCH_SIZE, 16);
  assert.equal(c.DATASET.DATA_DIR, './dataset/VOCtrainval_11-May-2012/VOC2012/');
  assert.equal(c.DATASET.NUM_CLASSES, 21);
  assert.equal(c.DATASET.TRAIN_FILE_LIST, 'dataset/VOCtrainval_11-May-2012/VOC2012/ImageSets/Segmentation/train.list');
  assert.equal(c.DATASET.VAL_FILE_LIST, 'dataset/VOCtrainval_11-May-2012/VOC2012/ImageSets/Segmentation/val.list');
  assert.equal(c.DATASET.SEPARATOR, ' ');
  assert.equal(c.TRAIN.MODEL_SAVE_DIR, './saved_model/lovasz-softmax-voc');
  assert.equal(c.TEST.TEST_MODEL, './saved_model/lovasz-softmax-voc/final');
  assert.equal(c.SOLVER.NUM_EPOCHS, 100);
  assert.equal(c.SOLVER.LR, 0.0001);
  assert.deepEqual(c.SOLVER.LOSS, ['lovasz_softmax_loss', 'softmax_loss']);
  assert.equal(c.SOLVER.LOSS_WEIGHT['LOVASZ_SOFTMAX_LOSS'], 0.2);
  assert.equal(c.SOLVER.LOSS_WEIGHT['SOFTMAX_LOSS'], 0.8);
  assert.deepEqual(c.FREEZE, { MODEL_FILENAME: '__model__', PARAMS_FILENAME: '__params__', SAVE_DIR: 'freeze_model' });
});

test('overrides beat the file; literal forms work on the command line', () => {
  const { config: c, explicit } = resolveConfig({
    cfgFile: ROAD,
    cwd: REPO_ROOT,
    overrides: ['SOLVER.LOSS', "['lovasz_hinge_loss','bce_loss']", 'SOLVER.LOSS_WEIGHT.BCE_LOSS', '0.3', 'TRAIN_CROP_SIZE', '(256, 128)', 'SOLVER.LR', '1e-4', 'AUG.MIRROR', 'False', 'DATASET.VIS_FILE_LIST', 'None', 'AUG.AUG_METHOD', 'u"rangescaling"'],
  });
  assert.equal(c.SOLVER.LOSS_WEIGHT['BCE_LOSS'], 0.3);
  assert.equal(c.SOLVER.LOSS_WEIGHT['LOVASZ_HINGE_LOSS'], 0.5);
  assert.deepEqual(c.TRAIN_CROP_SIZE, [256, 128]);
  assert.equal(c.SOLVER.LR, 1e-4);
  assert.equal(c.AUG.MIRROR, false);
  assert.equal(c.DATASET.VIS_FILE_LIST, null);
  assert.equal(c.AUG.AUG_METHOD, 'rangescaling');
  assert.ok(explicit.has('SOLVER.LR'));
});

test('a bare string SOLVER.LOSS is a one-element list', () => {
  const { config: c } = resolveConfig({ cfgFile: VOC, cwd: REPO_ROOT, overrides: ['SOLVER.LOSS', 'softmax_loss'] });
  assert.deepEqual(c.SOLVER.LOSS, ['softmax_loss']);
});

test('derived values: DATA_DIM, PADDING_VALUE (unless set), *_TOTAL_IMAGES from the lists', () => {
  const { dir, cleanup } = tmpDir();
  try {
    fs.writeFileSync(path.join(dir, 'train.txt'), 'a.jpg|a.png\nb.jpg|b.png\n\nc.jpg|c.png\n');
    fs.writeFileSync(path.join(dir, 'cfg.yaml'), [
      'TRAIN_CROP_SIZE: (64, 64)',
      'EVAL_CROP_SIZE: (64, 64)',
      'MEAN: [0.4, 0.5, 0.6, 0.5]',
      'STD: [0.2, 0.2, 0.2, 0.2]',
      'DATASET:',
      '  IMAGE_TYPE: rgba',
      '  TRAIN_FILE_LIST: train.txt',
      '  VAL_FILE_LIST: missing.txt',
      '',
    ].join('\n'));
    const { config: c } = resolveConfig({ cfgFile: path.join(dir, 'cfg.yaml'), cwd: dir });
    assert.equal(c.DATASET.DATA_DIM, 4);
    assert.deepEqual(c.DATASET.PADDING_VALUE.map((v) => Math.round(v * 1000) / 1000), [102, 127.5, 153, 127.5]);
    assert.equal(c.DATASET.TRAIN_TOTAL_IMAGES, 3);
    assert.equal(c.DATASET.VAL_TOTAL_IMAGES, 500); // a missing list keeps its default; commands that read it fail then
    const set = resolveConfig({ cfgFile: path.join(dir, 'cfg.yaml'), cwd: dir, overrides: ['DATASET.PADDING_VALUE', '[0, 0, 0, 0]'] });
    assert.deepEqual(set.config.DATASET.PADDING_VALUE, [0, 0, 0, 0]); // pdseg overwrote this; seg keeps it
  } finally {
    cleanup();
  }
});

test('unknown keys name the dotted key and suggest the nearest one', () => {
  let e = expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['SOLVER.LR_POLICYY', 'poly'] }), 'config', /SOLVER\.LR_POLICYY.*did you mean SOLVER\.LR_POLICY\?/);
  assert.equal(e.key, 'SOLVER.LR_POLICYY');
  const { dir, cleanup } = tmpDir();
  try {
    const f = path.join(dir, 'bad.yaml');
    fs.writeFileSync(f, 'TRAIN_CROP_SIZE: (64, 64)\nEVAL_CROP_SIZE: (64, 64)\nMODEL:\n  DEEPLAB:\n    OUTPUT_STRID: 8\n');
    e = expectError(() => resolveConfig({ cfgFile: f }), 'config', /MODEL\.DEEPLAB\.OUTPUT_STRID.*did you mean MODEL\.DEEPLAB\.OUTPUT_STRIDE\?/);
    assert.equal(e.file, f);
  } finally {
    cleanup();
  }
});

test('wrong types name the key, the expected type and the value given', () => {
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['SOLVER.LR', 'fast'] }), 'config', /^SOLVER\.LR: expected number >= 0, got "fast" \(string\)/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['BATCH_SIZE', '2.5'] }), 'config', /^BATCH_SIZE: expected integer > 0, got 2\.5 \(number\)/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['AUG.AUG_METHOD', 'zoom'] }), 'config', /^AUG\.AUG_METHOD: "zoom" is not one of "unpadding", "stepscaling", "rangescaling"/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['AUG.MIRROR', '1'] }), 'config', /^AUG\.MIRROR: expected boolean/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['TRAIN_CROP_SIZE', '(1, 2, 3)'] }), 'config', /^TRAIN_CROP_SIZE: .*width, height/);
});

test('odd number of override tokens is a usage error', () => {
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['SOLVER.LR', '0.1', 'BATCH_SIZE'] }), 'usage', /even number of tokens, got 3/);
});

test('YAML syntax errors name the file, line and column', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const f = path.join(dir, 'broken.yaml');
    fs.writeFileSync(f, 'TRAIN_CROP_SIZE: (64, 64)\nSOLVER:\n  LR: 0.1\n   LR_POLICY: poly\n');
    const e = expectError(() => resolveConfig({ cfgFile: f }), 'config', /broken\.yaml:4:\d+: YAML syntax error/);
    assert.equal(e.line, 4);
  } finally {
    cleanup();
  }
});

test('a misspelt value suggests the nearest valid one', () => {
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['SOLVER.LOSS', "['lovasz_hinge','bce_loss']"] }), 'config', /did you mean "lovasz_hinge_loss"\?/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['SOLVER.LR_POLICY', 'cosin'] }), 'config', /did you mean "cosine"\?/);
});

test('loss rules: unknown names, one-channel losses with NUM_CLASSES > 2, mixing heads', () => {
  expectError(() => resolveConfig({ cfgFile: VOC, overrides: ['SOLVER.LOSS', "['focal_loss']"] }), 'config', /^SOLVER\.LOSS: item 0: "focal_loss" is not one of "softmax_loss", "dice_loss", "bce_loss", "lovasz_hinge_loss", "lovasz_softmax_loss"/);
  expectError(() => resolveConfig({ cfgFile: VOC, overrides: ['SOLVER.LOSS', "['lovasz_hinge_loss']"] }), 'config', /lovasz_hinge_loss is only applicable to binary segmentation, but DATASET\.NUM_CLASSES is 21/);
  expectError(() => resolveConfig({ cfgFile: VOC, overrides: ['SOLVER.LOSS', "['bce_loss','dice_loss']"] }), 'config', /bce_loss, dice_loss are only applicable to binary/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['SOLVER.LOSS', "['lovasz_hinge_loss','softmax_loss']"] }), 'config', /cannot mix one-channel losses \(lovasz_hinge_loss\) with multi-channel ones \(softmax_loss\)/);
});

test('pdseg options seg does not build must keep their defaults', () => {
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['MODEL.FP16', 'True'] }), 'config', /MODEL\.FP16: is a pdseg option that seg does not build/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['MODEL.DEEPLAB.BACKBONE', 'xception_65'] }), 'config', /MODEL\.DEEPLAB\.BACKBONE: xception_65 is a pdseg backbone seg does not build; seg builds mobilenetv2/);
});

test('cross-key checks: crop sizes set, MEAN length, IGNORE_INDEX outside the classes', () => {
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['TRAIN_CROP_SIZE', '()'] }), 'config', /TRAIN_CROP_SIZE: must be set/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['MEAN', '[0.5, 0.5]'] }), 'config', /MEAN: has 2 values but DATASET\.IMAGE_TYPE rgb has 3 channels/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['DATASET.IGNORE_INDEX', '1'] }), 'config', /IGNORE_INDEX: 1 is a class index/);
  expectError(() => resolveConfig({ cfgFile: ROAD, overrides: ['TRAIN.BEST_METRIC', 'iou_2'] }), 'config', /names class 2 but NUM_CLASSES is 2/);
});

test('every shipped config resolves (configs/ and configs/experiments/)', () => {
  const dirs = [path.join(REPO_ROOT, 'configs'), path.join(REPO_ROOT, 'configs', 'experiments'), path.join(REPO_ROOT, 'configs', 'experiments', 'investigation')];
  let n = 0;
  for (const dir of dirs) {
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
      const { config } = resolveConfig({ cfgFile: path.join(dir, f), cwd: REPO_ROOT });
      assert.ok(config.TRAIN_CROP_SIZE.length === 2, f);
      n++;
    }
  }
  assert.ok(n >= 12, `${n} configs`);
});
