/**
 * pdseg's data augmentation (reader.py / data_aug.py, reference section 6), on typed arrays.
 *
 * Training order, every random choice drawn from one seeded Rng in exactly this order:
 *   1. resize per AUG.AUG_METHOD: unpadding → FIX_RESIZE_SIZE; stepscaling → one of
 *      int((MAX-MIN)/STEP + 1) evenly spaced factors (uniform in [MIN, MAX] when STEP is 0), new
 *      size int(d·s + 0.5); rangescaling → long side int(U(MIN_RESIZE, MAX_RESIZE) + 0.5).
 *   2. AUG.RICH_CROP (when ENABLE):
 *      blur with probability 1/int(1/BLUR_RATIO), Gaussian kernel 3/5/7/9 (OpenCV's sigma rule);
 *      rotation by U(±MAX_ROTATION) degrees about (w//2, h//2) onto the enlarged canvas
 *      int(h·sin + w·cos) × int(h·cos + w·sin), image corners PADDING_VALUE, label corners IGNORE_INDEX;
 *      aspect crop: up to 10 tries of area U(MIN_AREA_RATIO, 1), aspect U(r, 1/r), a 50% w/h swap,
 *      then resized back (skipped when either ratio is 0);
 *      colour jitter: saturation/brightness/contrast factors U(±ratio) applied in a random order.
 *   3. AUG.FLIP (vertical) with probability 1/int(1/FLIP_RATIO).
 *   4. AUG.MIRROR (horizontal) with probability 1/2.
 *   5. random crop to TRAIN_CROP_SIZE; a smaller image is padded bottom/right first (image
 *      PADDING_VALUE, label IGNORE_INDEX).
 * Eval/vis: resize (unpadding → FIX_RESIZE_SIZE, stepscaling → none, rangescaling → long side
 * INF_RESIZE_VALUE), then pad bottom/right to EVAL_CROP_SIZE; an image larger than the crop is an error.
 *
 * How it is computed (not what): the geometric steps (resize, rotation, aspect crop, flips, crop and
 * padding; view.ts) are composed into one affine map from output pixels to source pixels and the image is
 * sampled ONCE at the end (bilinear, edge pixels replicated; labels nearest-neighbour), instead of
 * resampling after every step. Only the crop is ever computed, so a 2× upscale of a 1024² image
 * followed by a 769² crop costs a 769² resampling. Blur and colour jitter need real pixels, so the
 * image is rendered at those points (only when RICH_CROP asks for them; photometric.ts). Pixel centres are at
 * i + 0.5 for both interpolations (OpenCV's INTER_NEAREST uses i·scale, half a pixel off its own
 * INTER_LINEAR), so labels stay aligned with the image.
 *
 * Differences from pdseg (quirks not copied): colour jitter is really applied (pdseg v0.8 discarded
 * its result) and all three jitters take part; values are clamped to [0, 255] after each jitter
 * instead of wrapping around in uint8; padding uses PADDING_VALUE (some pdseg versions padded with
 * the raw MEAN); images are RGB, never BGR (AUG.TO_RGB is accepted and ignored).
 */
import type { SegConfig } from '../config/schema.js';
import type { Rng } from '../util/rng.js';
import type { ImagePlane, LabelPlane } from './planes.js';
import { View } from './view.js';
import { brightnessJitter, contrastJitter, gaussianBlur, saturationJitter } from './photometric.js';

/** The augmentation settings, from the config (see pipelineOptions). */
export interface PipelineOptions {
  augMethod: 'unpadding' | 'stepscaling' | 'rangescaling';
  fixResize: readonly [number, number];
  minScale: number;
  maxScale: number;
  scaleStep: number;
  minResize: number;
  maxResize: number;
  infResize: number;
  mirror: boolean;
  flip: boolean;
  flipRatio: number;
  richCrop: {
    enable: boolean;
    maxRotation: number;
    minAreaRatio: number;
    aspectRatio: number;
    brightness: number;
    saturation: number;
    contrast: number;
    blur: boolean;
    blurRatio: number;
  };
  trainCrop: readonly [number, number];
  evalCrop: readonly [number, number];
  /** Pad eval/vis images to evalCrop (TEST.MODE pad), or keep each at its resized size. */
  evalPad: boolean;
  /** Image fill for padding and rotation corners, per channel (0..255). */
  padding: readonly number[];
  ignoreIndex: number;
}

/** The augmentation settings of a resolved config. */
export function pipelineOptions(cfg: SegConfig): PipelineOptions {
  const a = cfg.AUG;
  const r = a.RICH_CROP;
  const pair = (v: readonly number[], what: string): readonly [number, number] => {
    if (v.length !== 2) throw new Error(`${what} must be (width, height)`);
    return [v[0] as number, v[1] as number];
  };
  return {
    augMethod: a.AUG_METHOD,
    fixResize: pair(a.FIX_RESIZE_SIZE, 'AUG.FIX_RESIZE_SIZE'),
    minScale: a.MIN_SCALE_FACTOR,
    maxScale: a.MAX_SCALE_FACTOR,
    scaleStep: a.SCALE_STEP_SIZE,
    minResize: a.MIN_RESIZE_VALUE,
    maxResize: a.MAX_RESIZE_VALUE,
    infResize: a.INF_RESIZE_VALUE,
    mirror: a.MIRROR,
    flip: a.FLIP,
    flipRatio: a.FLIP_RATIO,
    richCrop: {
      enable: r.ENABLE,
      maxRotation: r.MAX_ROTATION,
      minAreaRatio: r.MIN_AREA_RATIO,
      aspectRatio: r.ASPECT_RATIO,
      brightness: r.BRIGHTNESS_JITTER_RATIO,
      saturation: r.SATURATION_JITTER_RATIO,
      contrast: r.CONTRAST_JITTER_RATIO,
      blur: r.BLUR,
      blurRatio: r.BLUR_RATIO,
    },
    trainCrop: pair(cfg.TRAIN_CROP_SIZE, 'TRAIN_CROP_SIZE'),
    evalCrop: pair(cfg.EVAL_CROP_SIZE, 'EVAL_CROP_SIZE'),
    evalPad: cfg.TEST.MODE === 'pad',
    padding: cfg.DATASET.PADDING_VALUE,
    ignoreIndex: cfg.DATASET.IGNORE_INDEX,
  };
}

// ---------------------------------------------------------------------------------------------
// The pipelines

/** The stepscaling factor (pdseg get_random_scale). */
export function randomScale(o: PipelineOptions, rng: Rng): number {
  if (o.minScale === o.maxScale) return o.minScale;
  if (o.scaleStep === 0) return rng.uniform(o.minScale, o.maxScale);
  const steps = Math.trunc((o.maxScale - o.minScale) / o.scaleStep + 1);
  if (steps <= 1) return o.minScale;
  const i = rng.int(0, steps - 1);
  return o.minScale + ((o.maxScale - o.minScale) * i) / (steps - 1);
}

/** Size after an OpenCV resize by factor `s` (cv2.resize with fx = fy = s rounds). */
const scaled = (d: number, s: number): number => Math.max(1, Math.round(d * s));

/** The resized size of a w × h image (train: random per AUG_METHOD; eval: deterministic). */
export function resizedSize(o: PipelineOptions, w: number, h: number, rng: Rng | null): [number, number] {
  switch (o.augMethod) {
    case 'unpadding':
      return [o.fixResize[0], o.fixResize[1]];
    case 'stepscaling': {
      if (!rng) return [w, h];
      const s = randomScale(o, rng);
      if (s === 1) return [w, h];
      return [Math.max(1, Math.trunc(w * s + 0.5)), Math.max(1, Math.trunc(h * s + 0.5))];
    }
    case 'rangescaling': {
      let size = o.infResize;
      if (rng) size = o.minResize === o.maxResize ? o.minResize : Math.trunc(rng.uniform(o.minResize, o.maxResize) + 0.5);
      const s = size / Math.max(w, h);
      return [scaled(w, s), scaled(h, s)];
    }
  }
}

/** n = int(1/ratio) for "probability 1/n" choices (0 → never, ≥1 → always). */
const oneIn = (ratio: number): number => (ratio <= 0 ? 0 : ratio >= 1 ? 1 : Math.trunc(1 / ratio));

/** A training sample after augmentation: crop-sized, image rounded to 8 bits. */
export interface AugmentedSample {
  /** HWC, TRAIN_CROP_SIZE (or EVAL_CROP_SIZE), values 0..255. */
  image: Uint8Array;
  /** HW class indices, IGNORE_INDEX for padding and rotation corners. */
  label: Int32Array;
  width: number;
  height: number;
  channels: number;
}

function finish(v: View, o: PipelineOptions): AugmentedSample {
  const { image, label } = v.render((n) => new Uint8ClampedArray(n), o.padding, o.ignoreIndex);
  return {
    image: new Uint8Array(image.buffer, image.byteOffset, image.length),
    label: label ?? new Int32Array(v.width * v.height).fill(o.ignoreIndex),
    width: v.width,
    height: v.height,
    channels: v.image.channels,
  };
}

/** The training pipeline (resize, rich crop, flip, mirror, random crop with padding). */
export function augmentTrain(image: ImagePlane, label: LabelPlane, o: PipelineOptions, rng: Rng): AugmentedSample {
  const v = new View(image, label);
  const [rw, rh] = resizedSize(o, image.width, image.height, rng);
  v.resize(rw, rh);

  const rc = o.richCrop;
  if (rc.enable) {
    if (rc.blur) {
      const n = oneIn(rc.blurRatio);
      if (n > 0 && rng.int(0, n - 1) === 0) {
        let k = rng.int(3, 9);
        if (k % 2 !== 1) k += 1;
        if (k > 9) k = 9;
        gaussianBlur(v.materialize(o.padding, o.ignoreIndex), k);
      }
    }
    if (rc.maxRotation > 0) v.rotate(rng.uniform(-rc.maxRotation, rc.maxRotation));
    if (rc.minAreaRatio !== 0 && rc.aspectRatio !== 0) {
      const W = v.width;
      const H = v.height;
      for (let i = 0; i < 10; i++) {
        const area = W * H * rng.uniform(rc.minAreaRatio, 1.0);
        const ar = rng.uniform(rc.aspectRatio, 1.0 / rc.aspectRatio);
        let dw = Math.trunc(Math.sqrt(area * ar));
        let dh = Math.trunc(Math.sqrt(area / ar));
        if (rng.int(0, 9) < 5) [dw, dh] = [dh, dw];
        if (dh < H && dw < W && dw > 0 && dh > 0) {
          const y0 = rng.int(0, H - dh - 1);
          const x0 = rng.int(0, W - dw - 1);
          v.cropResize(x0, y0, dw, dh);
          break;
        }
      }
    }
    if (rc.brightness > 0 || rc.saturation > 0 || rc.contrast > 0) {
      const sat = rng.uniform(-rc.saturation, rc.saturation);
      const bri = rng.uniform(-rc.brightness, rc.brightness);
      const con = rng.uniform(-rc.contrast, rc.contrast);
      const order = rng.permutation(3);
      const img = v.materialize(o.padding, o.ignoreIndex);
      for (const op of order) {
        if (op === 0) saturationJitter(img, sat);
        else if (op === 1) brightnessJitter(img, bri);
        else contrastJitter(img, con);
      }
    }
  }

  if (o.flip) {
    const n = oneIn(o.flipRatio);
    if (n > 0 && rng.int(0, n - 1) === 0) v.flipVertical();
  }
  if (o.mirror && rng.int(0, 1) === 1) v.flipHorizontal();

  const [cw, ch] = o.trainCrop;
  if (v.width !== cw || v.height !== ch) {
    const pw = Math.max(v.width, cw);
    const ph = Math.max(v.height, ch);
    const yOff = rng.int(0, ph - ch);
    const xOff = rng.int(0, pw - cw);
    v.cropPad(xOff, yOff, cw, ch);
  }
  return finish(v, o);
}

/** An eval/vis sample: resized per AUG_METHOD and (TEST.MODE pad) padded bottom/right to EVAL_CROP_SIZE. */
export interface EvalSample extends AugmentedSample {
  /** Size of the resized image inside the padded crop (the top-left valid region). */
  validWidth: number;
  validHeight: number;
  /** Size of the image as decoded (EXIF orientation applied). */
  originalWidth: number;
  originalHeight: number;
}

/** Thrown by prepareEval when the resized image is larger than EVAL_CROP_SIZE (the caller names the file). */
export class EvalCropError extends Error {
  constructor(
    readonly resized: readonly [number, number],
    readonly crop: readonly [number, number],
  ) {
    super(`resized to ${resized[0]}x${resized[1]}, larger than EVAL_CROP_SIZE (${crop[0]}, ${crop[1]})`);
  }
}

/** The eval/vis pipeline (deterministic). `label` may be null (image-only test/vis lines). */
export function prepareEval(image: ImagePlane, label: LabelPlane | null, o: PipelineOptions): EvalSample {
  const v = new View(image, label);
  const [rw, rh] = resizedSize(o, image.width, image.height, null);
  v.resize(rw, rh);
  const [cw, ch] = o.evalPad ? o.evalCrop : [rw, rh];
  if (rw > cw || rh > ch) throw new EvalCropError([rw, rh], [cw, ch]);
  v.cropPad(0, 0, cw, ch);
  return { ...finish(v, o), validWidth: rw, validHeight: rh, originalWidth: image.width, originalHeight: image.height };
}

/**
 * Map a prediction at EVAL_CROP_SIZE back onto the original image (what `seg vis` writes): take
 * the valid top-left validWidth × validHeight region and resize it nearest-neighbour to the
 * original size.
 */
export function predictionToOriginal(
  pred: ArrayLike<number>,
  cropWidth: number,
  info: Pick<EvalSample, 'validWidth' | 'validHeight' | 'originalWidth' | 'originalHeight'>,
): Uint8Array {
  const { validWidth: vw, validHeight: vh, originalWidth: ow, originalHeight: oh } = info;
  const out = new Uint8Array(ow * oh);
  const sx = vw / ow;
  const sy = vh / oh;
  for (let y = 0; y < oh; y++) {
    const py = Math.min(vh - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < ow; x++) {
      const px = Math.min(vw - 1, Math.floor((x + 0.5) * sx));
      out[y * ow + x] = pred[py * cropWidth + px] as number;
    }
  }
  return out;
}

/** Per-channel lookup tables for (x/255 − MEAN)/STD. */
export function normalizationTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return mean.map((m, c) => {
    const s = std[c] ?? 1;
    const t = new Float32Array(256);
    for (let x = 0; x < 256; x++) t[x] = (x / 255 - m) / s;
    return t;
  });
}

/** Write (x/255 − MEAN)/STD of an 8-bit HWC image into `out` at `offset`. */
export function normalizeInto(out: Float32Array, offset: number, image: Uint8Array, channels: number, tables: readonly Float32Array[]): void {
  const n = image.length;
  if (channels === 3) {
    // the common case in one pass
    const [t0, t1, t2] = tables as [Float32Array, Float32Array, Float32Array];
    for (let i = 0; i < n; i += 3) {
      out[offset + i] = t0[image[i] as number] as number;
      out[offset + i + 1] = t1[image[i + 1] as number] as number;
      out[offset + i + 2] = t2[image[i + 2] as number] as number;
    }
    return;
  }
  for (let c = 0; c < channels; c++) {
    const t = tables[c] as Float32Array;
    for (let i = c; i < n; i += channels) out[offset + i] = t[image[i] as number] as number;
  }
}
