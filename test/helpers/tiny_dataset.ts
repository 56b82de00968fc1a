/**
 * A tiny real dataset for end-to-end tests: JPEG images with bright rectangles (class 1, or classes
 * 1..K-1 by colour) on a noisy darker background, PNG index labels, `|`-separated lists, and a YAML
 * config for a small DeepLabv3+/MobileNetV2 that trains in seconds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../src/util/rng.js';

export interface TinyDatasetOptions {
  train?: number;
  val?: number;
  size?: number;
  classes?: number;
  seed?: number;
}

const COLOURS: Array<[number, number, number]> = [[230, 60, 60], [60, 220, 60], [70, 90, 240], [240, 220, 60]];

export async function makeTinyDataset(dir: string, opts: TinyDatasetOptions = {}): Promise<void> {
  const size = opts.size ?? 32;
  const classes = opts.classes ?? 2;
  const rng = new Rng(opts.seed ?? 7);
  for (const [split, n] of [['train', opts.train ?? 8], ['val', opts.val ?? 4]] as const) {
    const lines: string[] = [];
    for (let k = 0; k < n; k++) {
      const rgb = new Uint8Array(size * size * 3);
      const label = new Uint8Array(size * size);
      for (let i = 0; i < size * size; i++) for (let ch = 0; ch < 3; ch++) rgb[i * 3 + ch] = 40 + rng.int(0, 40);
      const rects = rng.int(1, 3);
      for (let r = 0; r < rects; r++) {
        const cls = rng.int(1, classes - 1);
        const w = rng.int(4, size / 2);
        const h = rng.int(4, size / 2);
        const x0 = rng.int(0, size - w);
        const y0 = rng.int(0, size - h);
        const col = COLOURS[(cls - 1) % COLOURS.length] as [number, number, number];
        for (let y = y0; y < y0 + h; y++) {
          for (let x = x0; x < x0 + w; x++) {
            const i = y * size + x;
            label[i] = cls;
            for (let ch = 0; ch < 3; ch++) rgb[i * 3 + ch] = Math.min(255, (col[ch] as number) + rng.int(-15, 15));
          }
        }
      }
      fs.mkdirSync(path.join(dir, split, 'images'), { recursive: true });
      fs.mkdirSync(path.join(dir, split, 'labels'), { recursive: true });
      await sharp(Buffer.from(rgb), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 95 }).toFile(path.join(dir, split, 'images', `${k}.jpg`));
      await sharp(Buffer.from(label), { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, split, 'labels', `${k}.png`));
      lines.push(`${split}/images/${k}.jpg|${split}/labels/${k}.png`);
    }
    fs.writeFileSync(path.join(dir, `${split}.txt`), `${lines.join('\n')}\n`);
  }
}

/** A config (YAML text) for the tiny dataset in `dataDir`, run folder `runDir`. */
export function tinyConfig(dataDir: string, runDir: string, opts: { classes?: number; size?: number; epochs?: number; loss?: string; aspp?: boolean } = {}): string {
  const size = opts.size ?? 32;
  const classes = opts.classes ?? 2;
  const loss = opts.loss ?? (classes === 2 ? '["lovasz_hinge_loss", "bce_loss"]' : '["lovasz_softmax_loss", "softmax_loss"]');
  return [
    `TRAIN_CROP_SIZE: (${size}, ${size})`,
    `EVAL_CROP_SIZE: (${size}, ${size})`,
    'BATCH_SIZE: 2',
    'AUG:',
    '  AUG_METHOD: unpadding',
    `  FIX_RESIZE_SIZE: (${size}, ${size})`,
    'DATASET:',
    `  DATA_DIR: "${dataDir}"`,
    `  TRAIN_FILE_LIST: "${path.join(dataDir, 'train.txt')}"`,
    `  VAL_FILE_LIST: "${path.join(dataDir, 'val.txt')}"`,
    `  TEST_FILE_LIST: "${path.join(dataDir, 'val.txt')}"`,
    `  NUM_CLASSES: ${classes}`,
    "  SEPARATOR: '|'",
    'MODEL:',
    '  DEEPLAB:',
    '    BACKBONE: mobilenetv2',
    '    DEPTH_MULTIPLIER: 0.25',
    `    ENCODER_WITH_ASPP: ${opts.aspp ? 'True' : 'False'}`,
    `    ENABLE_DECODER: ${opts.aspp ? 'True' : 'False'}`,
    'TRAIN:',
    `  MODEL_SAVE_DIR: "${runDir}"`,
    '  SNAPSHOT_EPOCH: 1',
    'TEST:',
    `  TEST_MODEL: "${path.join(runDir, 'final')}"`,
    'SOLVER:',
    '  OPTIMIZER: adam',
    '  LR: 0.005',
    `  NUM_EPOCHS: ${opts.epochs ?? 2}`,
    `  LOSS: ${loss}`,
    '',
  ].join('\n');
}
