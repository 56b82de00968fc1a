/** Fixtures for the data tests: real image files written with sharp, tiny datasets, configs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { encode as encodePng } from 'fast-png';
import { zipStore } from '../helpers/zip.js';
import { ConfigSchema, type SegConfig, type SegConfigInput } from '../../src/config/schema.js';

/** Write an 8-bit raw image with sharp (format from the extension: .png .jpg .webp .tif). */
export async function writeRaw(file: string, data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, opts: { orientation?: number; lossless?: boolean } = {}): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let p = sharp(Buffer.from(data), { raw: { width, height, channels } });
  if (channels <= 2) p = p.toColourspace('b-w');
  if (opts.orientation) p = p.withMetadata({ orientation: opts.orientation });
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') p = p.png();
  else if (ext === '.jpg' || ext === '.jpeg') p = p.jpeg({ quality: 95 });
  else if (ext === '.webp') p = p.webp(opts.lossless ? { lossless: true } : { quality: 95 });
  else if (ext === '.tif' || ext === '.tiff') p = p.tiff({ compression: 'lzw' });
  else throw new Error(`writeRaw: unsupported ${ext}`);
  await p.toFile(file);
}

/** Write a palette PNG (indices with a palette) with fast-png. */
export function writePalettePng(file: string, indices: Uint8Array, width: number, height: number, palette: number[][], depth: 1 | 2 | 4 | 8 = 8): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let data = indices;
  if (depth < 8) {
    const perByte = 8 / depth;
    const rowBytes = Math.ceil(width / perByte);
    data = new Uint8Array(rowBytes * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = y * rowBytes + Math.floor(x / perByte);
        data[o] = (data[o] ?? 0) | ((indices[y * width + x] as number) << (8 - depth * ((x % perByte) + 1)));
      }
    }
  }
  fs.writeFileSync(file, encodePng({ width, height, data, depth, channels: 1, palette }));
}

/**
 * A block image: the class of a pixel is encoded in its colour (red = 40 + 60·class, green and
 * blue vary by position), blocks of `block` pixels, so image and label can be checked against
 * each other after any geometric transform.
 */
export function blockPattern(width: number, height: number, block: number, classes: number): { rgb: Uint8Array; label: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = (Math.floor(x / block) * 7 + Math.floor(y / block) * 3) % classes;
      const i = y * width + x;
      label[i] = c;
      rgb[i * 3] = 40 + 60 * c;
      rgb[i * 3 + 1] = Math.floor((x * 255) / width);
      rgb[i * 3 + 2] = Math.floor((y * 255) / height);
    }
  }
  return { rgb, label };
}

/** A config from a partial input, with the crop sizes set. */
export function makeConfig(input: SegConfigInput): SegConfig {
  const cfg = ConfigSchema.parse({ TRAIN_CROP_SIZE: [64, 64], EVAL_CROP_SIZE: [128, 128], ...input });
  cfg.DATASET.DATA_DIM = cfg.DATASET.IMAGE_TYPE === 'rgba' ? 4 : 3;
  cfg.DATASET.PADDING_VALUE = cfg.MEAN.map((m) => m * 255);
  return cfg;
}

/**
 * A dataset of `n` block-pattern pairs (JPEG images of varying size, PNG labels) in `dir`, with
 * train.txt (`|`-separated). Returns the list lines.
 */
export async function blockDataset(dir: string, n: number, opts: { classes?: number; sizes?: Array<[number, number]> } = {}): Promise<string[]> {
  const classes = opts.classes ?? 2;
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    const [w, h] = opts.sizes?.[k % opts.sizes.length] ?? [90 + 7 * k, 70 + 3 * k];
    const { rgb, label } = blockPattern(w, h, 12, classes);
    await writeRaw(path.join(dir, 'images', `${k}.png`), rgb, w, h, 3);
    await writeRaw(path.join(dir, 'labels', `${k}.png`), label, w, h, 1);
    lines.push(`images/${k}.png|labels/${k}.png`);
  }
  fs.writeFileSync(path.join(dir, 'train.txt'), `${lines.join('\n')}\n`);
  return lines;
}

/** Write a zip fixture (see test/helpers/zip.ts). Names ending in / are folders. */
export function writeZip(file: string, entries: Array<{ name: string; data?: Uint8Array }>): void {
  fs.writeFileSync(file, zipStore(entries.map((e) => [e.name, e.data] as const)));
}
