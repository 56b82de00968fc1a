/**
 * `seg vis`: predictions as pictures, at the original image size (pdseg vis.py, plus overlays and
 * comparisons). For each image of the list:
 *   <dir>/<name>.png            the predicted label as a palette PNG (VOC colour map; pixel values
 *                               are the class indices, as pdseg writes them)
 *   <dir>/overlay/<name>.jpg    the prediction blended over the image
 *   <dir>/compare/<name>.png    input | ground truth | prediction | errors (when a label exists):
 *                               errors shows missed pixels in blue and false alarms in red over a
 *                               grey copy of the image, so broken roads stand out
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import type { RunContext } from '../util/context.js';
import type { SegModel } from '../models/build.js';
import type { DataLoader, EvalSampleInfo } from '../data/loader.js';
import { readLabel, writeImage, writeLabelPng, type RawImage } from '../data/image_io.js';
import { colorize, overlay, vocPalette, type Rgb } from '../data/palette.js';
import { inferenceScope } from '../ops/index.js';
import { inferOptions, inferProbabilities } from './infer.js';

export interface VisOptions {
  visDir: string;
  loader: DataLoader;
  split: 'vis' | 'val' | 'test';
  ctx: RunContext;
  /** At most this many images. */
  limit?: number;
  /** Flip test-time augmentation. */
  flip?: boolean;
}

export interface VisResult {
  dir: string;
  images: number;
  files: string[];
}

/** Colours for pictures: VOC's, except a bright yellow foreground for binary tasks. */
export function displayPalette(numClasses: number): Rgb[] {
  const p = vocPalette(256);
  if (numClasses === 2) p[1] = [255, 214, 0];
  return p;
}

/** Nearest-neighbour resize of the top-left `vw`×`vh` region of a `w`-wide label map to `ow`×`oh`. */
export function resizeLabelRegion(src: ArrayLike<number>, w: number, vw: number, vh: number, ow: number, oh: number): Uint8Array {
  const out = new Uint8Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(vh - 1, Math.floor(((y + 0.5) * vh) / oh));
    for (let x = 0; x < ow; x++) {
      const sx = Math.min(vw - 1, Math.floor(((x + 0.5) * vw) / ow));
      out[y * ow + x] = src[sy * w + sx] as number;
    }
  }
  return out;
}

function toRgb(img: RawImage): RawImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const r = img.data[i * img.channels] as number;
    const g = img.channels >= 3 ? (img.data[i * img.channels + 1] as number) : r;
    const b = img.channels >= 3 ? (img.data[i * img.channels + 2] as number) : r;
    data[i * 3] = r;
    data[i * 3 + 1] = g;
    data[i * 3 + 2] = b;
  }
  return { data, width: img.width, height: img.height, channels: 3 };
}

/** Missed label pixels in blue, false alarms in red, over a grey copy of the image. */
export function errorMap(image: RawImage, label: ArrayLike<number>, pred: ArrayLike<number>, ignoreIndex: number, background = 0): RawImage {
  const rgb = toRgb(image);
  const n = rgb.width * rgb.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const grey = Math.round(0.299 * (rgb.data[i * 3] as number) + 0.587 * (rgb.data[i * 3 + 1] as number) + 0.114 * (rgb.data[i * 3 + 2] as number)) >> 1;
    const l = label[i] as number;
    const p = pred[i] as number;
    let c: Rgb = [grey, grey, grey];
    if (l !== ignoreIndex && l !== p) c = l === background ? [255, 40, 40] : p === background ? [40, 110, 255] : [255, 140, 0];
    data[i * 3] = c[0];
    data[i * 3 + 1] = c[1];
    data[i * 3 + 2] = c[2];
  }
  return { data, width: rgb.width, height: rgb.height, channels: 3 };
}

/** Panels side by side, separated by a white gap. */
export function sideBySide(panels: readonly RawImage[], gap = 4): RawImage {
  const h = Math.max(...panels.map((p) => p.height));
  const w = panels.reduce((s, p) => s + p.width, 0) + gap * (panels.length - 1);
  const data = new Uint8Array(w * h * 3).fill(255);
  let x0 = 0;
  for (const p0 of panels) {
    const p = toRgb(p0);
    for (let y = 0; y < p.height; y++) data.set(p.data.subarray(y * p.width * 3, (y + 1) * p.width * 3), (y * w + x0) * 3);
    x0 += p.width + gap;
  }
  return { data, width: w, height: h, channels: 3 };
}

export async function visualise(model: SegModel, cfg: SegConfig, opts: VisOptions): Promise<VisResult> {
  return inferenceScope(() => visualiseBatches(model, cfg, opts));
}

async function visualiseBatches(model: SegModel, cfg: SegConfig, opts: VisOptions): Promise<VisResult> {
  const numClasses = model.headChannels === 1 ? 2 : model.headChannels;
  const palette = vocPalette(256);
  const shown = displayPalette(numClasses);
  const ignore = cfg.DATASET.IGNORE_INDEX;
  const used = new Set<string>();
  const files: string[] = [];
  let images = 0;
  const bar = opts.ctx.progress('vis', opts.limit ?? cfg.DATASET.VAL_TOTAL_IMAGES);
  try {
    for await (const batch of opts.loader.evalBatches(opts.split, { keepOriginal: true, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) })) {
      const { n, height: h, width: w, channels: c } = batch;
      const predT = tf.tidy(() => {
        const x = tf.tensor4d(batch.images, [n, h, w, c]);
        const p = inferProbabilities(model, x, inferOptions(cfg, opts.flip));
        return tf.argMax(p, 3);
      });
      const preds = predT.dataSync();
      predT.dispose();
      for (let i = 0; i < n; i++) {
        const info = batch.samples[i] as EvalSampleInfo;
        const pred = resizeLabelRegion(preds.subarray(i * h * w, (i + 1) * h * w), w, info.validWidth, info.validHeight, info.originalWidth, info.originalHeight);
        let name = path.basename(info.entry.image, path.extname(info.entry.image));
        if (used.has(name)) name = `${name}_line${info.entry.line}`;
        used.add(name);
        const base = path.join(opts.visDir, `${name}.png`);
        await writeLabelPng(base, pred, info.originalWidth, info.originalHeight, palette);
        files.push(base);
        const original = info.original ? toRgb(info.original) : colorize(pred, info.originalWidth, info.originalHeight, shown);
        const ov = path.join(opts.visDir, 'overlay', `${name}.jpg`);
        await writeImage(ov, overlay(original, pred, shown, { alpha: 0.55 }));
        files.push(ov);
        if (info.hasLabel && info.entry.labelPath !== undefined) {
          const lab = await readLabel(info.entry.labelPath, { listFile: info.entry.listFile, line: info.entry.line });
          const gt = Uint8Array.from(lab.data, (v) => v);
          const cmp = path.join(opts.visDir, 'compare', `${name}.png`);
          await writeImage(cmp, sideBySide([original, colorize(gt, lab.width, lab.height, shown), colorize(pred, info.originalWidth, info.originalHeight, shown), errorMap(original, gt, pred, ignore)]));
          files.push(cmp);
        }
        images++;
        bar.update(images);
      }
      if (opts.ctx.signal.aborted) break;
    }
  } finally {
    bar.stop();
  }
  return { dir: opts.visDir, images, files };
}
