/**
 * How `seg eval`, `seg vis` and the experiment pictures turn images into class probabilities:
 * TEST.MODE (pad / whole / slide), TEST.SCALES and TEST.FLIP, as mmsegmentation and PaddleSeg 2.x
 * evaluate.
 *
 *   slide   windows of TEST.SLIDE.WINDOW (clipped to the image) every TEST.SLIDE.STRIDE, the last
 *           row and column moved back to end at the image border (PaddleSeg's slide_inference);
 *           the logits of overlapping windows averaged; windows run BATCH_SIZE at a time, and only
 *           the running sum of one image is kept, so memory does not grow with the image.
 *   scales  the image resized by each factor (bilinear, half-pixel centres), its logits resized back;
 *   flip    the mirrored image too, its logits mirrored back;
 *   and the class probabilities of every scale and flip averaged.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import type { SegModel } from '../models/build.js';

export interface InferOptions {
  mode: 'pad' | 'whole' | 'slide';
  /** (width, height) of a window and between windows (slide). */
  window: readonly [number, number];
  stride: readonly [number, number];
  scales: readonly number[];
  flip: boolean;
  /** Windows per forward pass. */
  batch: number;
}

/** The inference a config asks for; `flip` (--aug_eval) adds the mirrored image. */
export function inferOptions(cfg: SegConfig, flip = false): InferOptions {
  const t = cfg.TEST;
  const [ww = 0, wh = 0] = t.SLIDE.WINDOW;
  const [sw, sh] = t.SLIDE.STRIDE.length === 2 ? t.SLIDE.STRIDE : [Math.max(1, Math.round((2 * ww) / 3)), Math.max(1, Math.round((2 * wh) / 3))];
  return { mode: t.MODE, window: [ww, wh], stride: [sw as number, sh as number], scales: t.SCALES, flip: flip || t.FLIP, batch: cfg.BATCH_SIZE };
}

/** Class probabilities [N,H,W,K]; a one-channel head becomes [1−σ, σ]. */
export function probabilities(logits: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (logits.shape[3] === 1) {
      const p = tf.sigmoid(logits);
      return tf.concat([tf.sub(1, p), p], 3) as tf.Tensor4D;
    }
    return tf.softmax(logits, -1) as tf.Tensor4D;
  });
}

/** The top-left corners of the windows over a side of `size` (PaddleSeg's grid). */
export function windowStarts(size: number, win: number, stride: number): number[] {
  const w = Math.min(win, size);
  const n = Math.floor(Math.max(size - w + stride - 1, 0) / stride) + 1;
  return Array.from({ length: n }, (_, i) => Math.max(Math.min(i * stride + w, size) - w, 0));
}

/** Logits of one image [1,H,W,C] by overlapping windows, averaged where they overlap. */
function slideLogits(model: SegModel, x: tf.Tensor4D, o: InferOptions): tf.Tensor4D {
  const [, H, W] = x.shape;
  const wh = Math.min(o.window[1], H);
  const ww = Math.min(o.window[0], W);
  const corners = windowStarts(H, o.window[1], o.stride[1]).flatMap((y) => windowStarts(W, o.window[0], o.stride[0]).map((xx) => [y, xx] as const));
  const K = model.headChannels;
  const sum = new Float32Array(H * W * K);
  const count = new Float32Array(H * W);
  for (let b = 0; b < corners.length; b += o.batch) {
    const chunk = corners.slice(b, b + o.batch);
    const logits = tf.tidy(() => model.apply(tf.concat(chunk.map(([y, xx]) => tf.slice(x, [0, y, xx, 0], [1, wh, ww, -1])), 0) as tf.Tensor4D, { training: false }));
    const values = logits.dataSync();
    logits.dispose();
    chunk.forEach(([y0, x0], i) => {
      for (let y = 0; y < wh; y++) {
        for (let xx = 0; xx < ww; xx++) {
          const p = (y0 + y) * W + x0 + xx;
          count[p] = (count[p] as number) + 1;
          const src = ((i * wh + y) * ww + xx) * K;
          for (let k = 0; k < K; k++) sum[p * K + k] = (sum[p * K + k] as number) + (values[src + k] as number);
        }
      }
    });
  }
  for (let p = 0; p < H * W; p++) for (let k = 0; k < K; k++) sum[p * K + k] = (sum[p * K + k] as number) / (count[p] as number);
  return tf.tensor4d(sum, [1, H, W, K]);
}

/** Logits at x's size: one forward pass, or windows (slide; one image at a time). */
function logitsOf(model: SegModel, x: tf.Tensor4D, o: InferOptions): tf.Tensor4D {
  if (o.mode !== 'slide') return model.apply(x, { training: false });
  const images = tf.split(x, x.shape[0], 0) as tf.Tensor4D[];
  const out = images.map((im) => slideLogits(model, im, o));
  tf.dispose(images);
  const all = out.length === 1 ? (out[0] as tf.Tensor4D) : (tf.concat(out, 0) as tf.Tensor4D);
  if (out.length > 1) tf.dispose(out);
  return all;
}

/** Class probabilities [N,H,W,K] of normalised images [N,H,W,C], averaged over TEST.SCALES and TEST.FLIP. */
export function inferProbabilities(model: SegModel, x: tf.Tensor4D, o: InferOptions): tf.Tensor4D {
  const [, H, W] = x.shape;
  let sum: tf.Tensor4D | undefined;
  let n = 0;
  for (const s of o.scales) {
    for (const mirrored of o.flip ? [false, true] : [false]) {
      const p = tf.tidy(() => {
        let xi = s === 1 ? x : tf.image.resizeBilinear(x, [Math.max(1, Math.round(H * s)), Math.max(1, Math.round(W * s))], false, true);
        if (mirrored) xi = tf.reverse(xi, 2);
        let logits = logitsOf(model, xi, o);
        if (mirrored) logits = tf.reverse(logits, 2);
        if (s !== 1) logits = tf.image.resizeBilinear(logits, [H, W], false, true);
        return probabilities(logits);
      });
      const next = sum ? (tf.add(sum, p) as tf.Tensor4D) : p;
      if (sum) tf.dispose([sum, p]);
      sum = next;
      n++;
    }
  }
  const avg = tf.div(sum as tf.Tensor4D, n) as tf.Tensor4D;
  sum?.dispose();
  return avg;
}
