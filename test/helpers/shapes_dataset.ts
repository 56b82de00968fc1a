/**
 * A small learning task for the learning test (test/e2e/learning.test.ts): 48² JPEG images of thin
 * bars and filled squares, all of one bright colour with a little noise, on a noisy darker
 * background. The class is the SHAPE, never the colour, so that a network has to learn spatial
 * features to separate them:
 *   binary   (classes 2): bars are class 1; squares are background, a distractor of the same colour;
 *   3 classes:            bars 1, squares 2.
 * Bars are 4 px wide (the thin structures the stride-4 decoder exists for), squares 10-14 px, so that
 * bars are well under half of the bright pixels and colour alone cannot reach a high bar IoU.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../src/util/rng.js';

export const SHAPES_SIZE = 48;
/** Bar width in pixels: thin, yet above the stride-4 decoder's resolution. */
const BAR_WIDTH = 4;

function drawBar(rng: Rng, label: Uint8Array, cls: number, size: number): void {
  const len = rng.int(18, 36);
  const horizontal = rng.int(0, 1) === 0;
  const x0 = rng.int(2, size - (horizontal ? len : BAR_WIDTH) - 2);
  const y0 = rng.int(2, size - (horizontal ? BAR_WIDTH : len) - 2);
  for (let t = 0; t < len; t++) {
    for (let d = 0; d < BAR_WIDTH; d++) {
      const x = horizontal ? x0 + t : x0 + d;
      const y = horizontal ? y0 + d : y0 + t;
      label[y * size + x] = cls;
    }
  }
}

function drawSquare(rng: Rng, label: Uint8Array, cls: number, size: number): void {
  const s = rng.int(10, 14);
  const x0 = rng.int(1, size - s - 1);
  const y0 = rng.int(1, size - s - 1);
  for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) label[y * size + x] = cls;
}

/** Writes `train.txt`, `val.txt`, images/ and labels/ under `dir`. */
export async function makeShapesDataset(dir: string, opts: { classes: 2 | 3; train: number; val: number; seed?: number }): Promise<void> {
  const size = SHAPES_SIZE;
  const rng = new Rng(opts.seed ?? 11);
  for (const [split, n] of [['train', opts.train], ['val', opts.val]] as const) {
    const lines: string[] = [];
    fs.mkdirSync(path.join(dir, split, 'images'), { recursive: true });
    fs.mkdirSync(path.join(dir, split, 'labels'), { recursive: true });
    for (let k = 0; k < n; k++) {
      const shape = new Uint8Array(size * size); // 0 none, 1 bar, 2 square
      for (let i = rng.int(1, 2); i > 0; i--) drawBar(rng, shape, 1, size);
      for (let i = rng.int(1, 2); i > 0; i--) drawSquare(rng, shape, 2, size);
      const rgb = new Uint8Array(size * size * 3);
      const label = new Uint8Array(size * size);
      for (let i = 0; i < size * size; i++) {
        const on = shape[i] !== 0;
        for (let ch = 0; ch < 3; ch++) rgb[i * 3 + ch] = on ? 190 + rng.int(-25, 25) : 50 + rng.int(0, 60);
        label[i] = shape[i] === 2 && opts.classes === 2 ? 0 : (shape[i] as number);
      }
      await sharp(Buffer.from(rgb), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 95 }).toFile(path.join(dir, split, 'images', `${k}.jpg`));
      await sharp(Buffer.from(label), { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, split, 'labels', `${k}.png`));
      lines.push(`${split}/images/${k}.jpg|${split}/labels/${k}.png`);
    }
    fs.writeFileSync(path.join(dir, `${split}.txt`), `${lines.join('\n')}\n`);
  }
}

/** A seg config (YAML text) for the shapes task: DeepLabv3+ ×0.5 with ASPP and the decoder, Adam, poly. */
export function shapesConfig(
  dataDir: string,
  runDir: string,
  o: { classes: 2 | 3; loss: readonly string[]; weights?: readonly number[]; epochs: number; lr?: number },
): string {
  const size = SHAPES_SIZE;
  const weights = (o.weights ?? []).map((w, i) => `    ${o.loss[i]!.toUpperCase()}: ${w}`);
  return [
    `TRAIN_CROP_SIZE: (${size}, ${size})`,
    `EVAL_CROP_SIZE: (${size}, ${size})`,
    'BATCH_SIZE: 8',
    'AUG:',
    '  AUG_METHOD: unpadding',
    `  FIX_RESIZE_SIZE: (${size}, ${size})`,
    '  MIRROR: True',
    '  FLIP: True',
    'DATASET:',
    `  DATA_DIR: "${dataDir}"`,
    `  TRAIN_FILE_LIST: "${path.join(dataDir, 'train.txt')}"`,
    `  VAL_FILE_LIST: "${path.join(dataDir, 'val.txt')}"`,
    `  TEST_FILE_LIST: "${path.join(dataDir, 'val.txt')}"`,
    `  NUM_CLASSES: ${o.classes}`,
    "  SEPARATOR: '|'",
    'MODEL:',
    '  DEEPLAB:',
    '    BACKBONE: mobilenetv2',
    '    DEPTH_MULTIPLIER: 0.5',
    '    ENCODER_WITH_ASPP: True',
    '    ENABLE_DECODER: True',
    'TRAIN:',
    `  MODEL_SAVE_DIR: "${runDir}"`,
    `  SNAPSHOT_EPOCH: ${o.epochs}`,
    'TEST:',
    `  TEST_MODEL: "${path.join(runDir, 'final')}"`,
    'SOLVER:',
    '  OPTIMIZER: adam',
    `  LR: ${o.lr ?? 0.003}`,
    '  LR_POLICY: poly',
    `  NUM_EPOCHS: ${o.epochs}`,
    `  LOSS: ${JSON.stringify(o.loss)}`,
    ...(weights.length > 0 ? ['  LOSS_WEIGHT:', ...weights] : []),
    '',
  ].join('\n');
}
