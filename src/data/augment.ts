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
 * padding) are composed into one affine map from output pixels to source pixels and the image is
 * sampled ONCE at the end (bilinear, edge pixels replicated; labels nearest-neighbour), instead of
 * resampling after every step. Only the crop is ever computed, so a 2× upscale of a 1024² image
 * followed by a 769² crop costs a 769² resampling. Blur and colour jitter need real pixels, so the
 * image is rendered at those points (only when RICH_CROP asks for them). Pixel centres are at
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

/** Interleaved pixels, HWC. */
export type Pixels = Uint8Array | Uint8ClampedArray | Float32Array;
/** One class index per pixel. */
export type LabelValues = Uint8Array | Uint16Array | Int32Array;

/** An image plane: `channels` interleaved values per pixel, row-major. */
export interface ImagePlane {
  data: Pixels;
  width: number;
  height: number;
  channels: number;
}

/** A label plane (same width and height as its image). */
export interface LabelPlane {
  data: LabelValues;
  width: number;
  height: number;
}

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
    padding: cfg.DATASET.PADDING_VALUE,
    ignoreIndex: cfg.DATASET.IGNORE_INDEX,
  };
}

// ---------------------------------------------------------------------------------------------
// Affine maps in continuous pixel coordinates (pixel i covers [i, i+1), its centre is i + 0.5).

/** (X, Y) → (a·X + b·Y + c, d·X + e·Y + f). */
export type Affine = readonly [number, number, number, number, number, number];

const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

/** f∘g: first g, then f. */
function compose(f: Affine, g: Affine): Affine {
  const [a, b, c, d, e, ff] = f;
  const [p, q, r, s, t, u] = g;
  return [a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + ff];
}

/** A region the output must map into: stage coordinates `map(X)` must lie in [0, width) × [0, height). */
interface Clip {
  map: Affine;
  width: number;
  height: number;
}

/**
 * A lazily transformed image/label pair: the current output (width × height) is the source sampled
 * through `map`; output pixels outside any clip are padding.
 */
export class View {
  /** Output coordinates → source coordinates. */
  map: Affine = IDENTITY;
  width: number;
  height: number;
  /** Intermediate domains (rotation canvas, pre-crop image) the output must fall inside. */
  clips: Clip[] = [];

  constructor(
    public image: ImagePlane,
    public label: LabelPlane | null,
  ) {
    if (label && (label.width !== image.width || label.height !== image.height)) {
      throw new Error(`label ${label.width}x${label.height} does not match image ${image.width}x${image.height}`);
    }
    this.width = image.width;
    this.height = image.height;
  }

  /** Add a stage: `m` maps new output coordinates to the current output coordinates. */
  private push(m: Affine, width: number, height: number, clipCurrent: boolean): void {
    if (clipCurrent) this.clips.push({ map: IDENTITY, width: this.width, height: this.height });
    this.map = compose(this.map, m);
    this.clips = this.clips.map((c) => ({ ...c, map: compose(c.map, m) }));
    this.width = width;
    this.height = height;
  }

  /** Resize to w × h (image bilinear, label nearest). */
  resize(w: number, h: number): void {
    if (w === this.width && h === this.height) return;
    this.push([this.width / w, 0, 0, 0, this.height / h, 0], w, h, false);
  }

  /**
   * Rotate by `degrees` (counter-clockwise, as OpenCV's getRotationMatrix2D) about (w//2, h//2)
   * onto pdseg's enlarged canvas.
   */
  rotate(degrees: number): void {
    const w = this.width;
    const h = this.height;
    const th = (degrees * Math.PI) / 180;
    const al = Math.cos(th);
    const be = Math.sin(th);
    const cx = Math.floor(w / 2);
    const cy = Math.floor(h / 2);
    const nw = Math.trunc(h * Math.abs(be) + w * Math.abs(al));
    const nh = Math.trunc(h * Math.abs(al) + w * Math.abs(be));
    // Forward (pixel-index coordinates): dst = R·src + t, R = [[al, be], [-be, al]].
    const tx = (1 - al) * cx - be * cy + (nw / 2 - cx);
    const ty = be * cx + (1 - al) * cy + (nh / 2 - cy);
    // Inverse in index coordinates: src = Rᵀ·(dst - t) (R is a rotation); then shift by ±0.5 for centres.
    // src_c = Rᵀ·(X - 0.5 - t) + 0.5
    const ox = -0.5 - tx;
    const oy = -0.5 - ty;
    const m: Affine = [al, -be, al * ox - be * oy + 0.5, be, al, be * ox + al * oy + 0.5];
    this.push(m, Math.max(1, nw), Math.max(1, nh), true);
  }

  /** Take the window [x0, x0+cw) × [y0, y0+ch) and resize it back to the current size. */
  cropResize(x0: number, y0: number, cw: number, ch: number): void {
    this.push([cw / this.width, 0, x0, 0, ch / this.height, y0], this.width, this.height, false);
  }

  /** Vertical flip (upside down). */
  flipVertical(): void {
    this.push([1, 0, 0, 0, -1, this.height], this.width, this.height, false);
  }

  /** Horizontal flip (mirror). */
  flipHorizontal(): void {
    this.push([-1, 0, this.width, 0, 1, 0], this.width, this.height, false);
  }

  /** Pad bottom/right to at least cw × ch, then take the cw × ch window at (x0, y0). */
  cropPad(x0: number, y0: number, cw: number, ch: number): void {
    if (x0 === 0 && y0 === 0 && cw === this.width && ch === this.height) return;
    this.push([1, 0, x0, 0, 1, y0], cw, ch, true);
  }

  /** Render the image (and label) at the current size. */
  render<T extends Float32Array | Uint8ClampedArray>(
    make: (n: number) => T,
    fill: readonly number[],
    ignore: number,
  ): { image: T; label: Int32Array | null } {
    return renderView(this, make, fill, ignore);
  }

  /** Replace the source by rendered pixels (for blur and colour jitter) and reset the map. */
  materialize(fill: readonly number[], ignore: number): ImagePlane & { data: Float32Array } {
    const { image, label } = this.render((n) => new Float32Array(n), fill, ignore);
    const plane = { data: image, width: this.width, height: this.height, channels: this.image.channels };
    this.image = plane;
    this.label = label ? { data: label, width: this.width, height: this.height } : null;
    this.map = IDENTITY;
    this.clips = [];
    return plane;
  }
}

/** All constraints an output pixel must satisfy: the source domain and every clip. */
function allClips(v: View): Clip[] {
  return [{ map: v.map, width: v.image.width, height: v.image.height }, ...v.clips];
}

function insideAll(clips: readonly Clip[], x: number, Y: number): boolean {
  const X = x + 0.5;
  for (const c of clips) {
    const [a, b, cc, d, e, f] = c.map;
    const u = a * X + b * Y + cc;
    const w = d * X + e * Y + f;
    if (!(u >= 0 && u < c.width && w >= 0 && w < c.height)) return false;
  }
  return true;
}

/** The range [lo, hi) of integers x in [0, n) with lo ≤ k·x + m < hi, estimated (refined by the caller). */
function linearRange(k: number, m: number, lo: number, hi: number, n: number): [number, number] {
  if (k === 0) return m >= lo && m < hi ? [0, n] : [0, 0];
  let a: number;
  let b: number;
  if (k > 0) {
    a = Math.ceil((lo - m) / k);
    b = Math.ceil((hi - m) / k);
  } else {
    a = Math.floor((hi - m) / k) + 1;
    b = Math.floor((lo - m) / k) + 1;
  }
  return [Math.max(0, Math.min(n, a)), Math.max(0, Math.min(n, b))];
}

/** The valid x-range of row y: the intersection of every clip's range, endpoints checked exactly. */
function rowRange(clips: readonly Clip[], y: number, n: number): [number, number] {
  const Y = y + 0.5;
  let start = 0;
  let end = n;
  for (const c of clips) {
    const [a, b, cc, d, e, f] = c.map;
    const [s1, e1] = linearRange(a, 0.5 * a + b * Y + cc, 0, c.width, n);
    const [s2, e2] = linearRange(d, 0.5 * d + e * Y + f, 0, c.height, n);
    start = Math.max(start, s1, s2);
    end = Math.min(end, e1, e2);
  }
  if (end <= start) {
    // Rounding can only misplace the endpoints by one; probe around the estimate.
    for (let x = Math.max(0, start - 2); x < Math.min(n, start + 2); x++) {
      if (insideAll(clips, x, Y)) {
        start = x;
        end = x + 1;
        break;
      }
    }
    if (end <= start) return [0, 0];
  }
  while (start < end && !insideAll(clips, start, Y)) start++;
  while (end > start && !insideAll(clips, end - 1, Y)) end--;
  while (start > 0 && insideAll(clips, start - 1, Y)) start--;
  while (end < n && insideAll(clips, end, Y)) end++;
  return [start, end];
}

function renderView<T extends Float32Array | Uint8ClampedArray>(
  v: View,
  make: (n: number) => T,
  fill: readonly number[],
  ignore: number,
): { image: T; label: Int32Array | null } {
  const W = v.width;
  const H = v.height;
  const C = v.image.channels;
  const src = v.image.data;
  const sw = v.image.width;
  const sh = v.image.height;
  const lab = v.label ? v.label.data : null;
  const image = make(W * H * C);
  const label = lab ? new Int32Array(W * H).fill(ignore) : null;
  // Fill everything with the padding colour; valid pixels are overwritten below.
  const fills = Array.from({ length: C }, (_, c) => fill[c] ?? fill[0] ?? 0);
  for (let c = 0; c < C; c++) {
    const fc = fills[c] as number;
    for (let o = c; o < W * H * C; o += C) image[o] = fc;
  }
  const clips = allClips(v);
  const [a, b, cc, d, e, f] = v.map;
  const axisAligned = clips.every((c) => c.map[1] === 0 && c.map[3] === 0);

  if (axisAligned) {
    // Separable: per-column and per-row taps, computed once.
    const x0s = new Int32Array(W);
    const x1s = new Int32Array(W);
    const wxs = new Float32Array(W);
    const nxs = new Int32Array(W);
    for (let x = 0; x < W; x++) {
      const u = a * (x + 0.5) + cc;
      const fx = u - 0.5;
      const i0 = Math.floor(fx);
      wxs[x] = fx - i0;
      x0s[x] = Math.min(sw - 1, Math.max(0, i0));
      x1s[x] = Math.min(sw - 1, Math.max(0, i0 + 1));
      nxs[x] = Math.min(sw - 1, Math.max(0, Math.floor(u)));
    }
    const [xs, xe] = columnRange(clips, W);
    for (let y = 0; y < H; y++) {
      const Y = y + 0.5;
      const vv = e * Y + f;
      if (!rowInside(clips, Y)) continue;
      const fy = vv - 0.5;
      const j0 = Math.floor(fy);
      const wy = fy - j0;
      const r0 = Math.min(sh - 1, Math.max(0, j0)) * sw;
      const r1 = Math.min(sh - 1, Math.max(0, j0 + 1)) * sw;
      const ny = Math.min(sh - 1, Math.max(0, Math.floor(vv))) * sw;
      if (C === 3) {
        // The common case, unrolled: 3 channels.
        for (let x = xs; x < xe; x++) {
          const wx = wxs[x] as number;
          const p00 = (r0 + (x0s[x] as number)) * 3;
          const p01 = (r0 + (x1s[x] as number)) * 3;
          const p10 = (r1 + (x0s[x] as number)) * 3;
          const p11 = (r1 + (x1s[x] as number)) * 3;
          const o = (y * W + x) * 3;
          let s00 = src[p00] as number;
          let top = s00 + ((src[p01] as number) - s00) * wx;
          let s10 = src[p10] as number;
          let bot = s10 + ((src[p11] as number) - s10) * wx;
          image[o] = top + (bot - top) * wy;
          s00 = src[p00 + 1] as number;
          top = s00 + ((src[p01 + 1] as number) - s00) * wx;
          s10 = src[p10 + 1] as number;
          bot = s10 + ((src[p11 + 1] as number) - s10) * wx;
          image[o + 1] = top + (bot - top) * wy;
          s00 = src[p00 + 2] as number;
          top = s00 + ((src[p01 + 2] as number) - s00) * wx;
          s10 = src[p10 + 2] as number;
          bot = s10 + ((src[p11 + 2] as number) - s10) * wx;
          image[o + 2] = top + (bot - top) * wy;
        }
      } else {
        for (let x = xs; x < xe; x++) {
          const wx = wxs[x] as number;
          const p00 = (r0 + (x0s[x] as number)) * C;
          const p01 = (r0 + (x1s[x] as number)) * C;
          const p10 = (r1 + (x0s[x] as number)) * C;
          const p11 = (r1 + (x1s[x] as number)) * C;
          const o = (y * W + x) * C;
          for (let c = 0; c < C; c++) {
            const top = (src[p00 + c] as number) + ((src[p01 + c] as number) - (src[p00 + c] as number)) * wx;
            const bot = (src[p10 + c] as number) + ((src[p11 + c] as number) - (src[p10 + c] as number)) * wx;
            image[o + c] = top + (bot - top) * wy;
          }
        }
      }
      if (label && lab) {
        const row = y * W;
        for (let x = xs; x < xe; x++) label[row + x] = lab[ny + (nxs[x] as number)] as number;
      }
    }
    return { image, label };
  }

  for (let y = 0; y < H; y++) {
    const Y = y + 0.5;
    const [xs, xe] = rowRange(clips, y, W);
    for (let x = xs; x < xe; x++) {
      const X = x + 0.5;
      const u = a * X + b * Y + cc;
      const w = d * X + e * Y + f;
      const fx = u - 0.5;
      const fy = w - 0.5;
      const i0 = Math.floor(fx);
      const j0 = Math.floor(fy);
      const wx = fx - i0;
      const wy = fy - j0;
      const xa = i0 < 0 ? 0 : i0 >= sw ? sw - 1 : i0;
      const xb = i0 + 1 < 0 ? 0 : i0 + 1 >= sw ? sw - 1 : i0 + 1;
      const ya = (j0 < 0 ? 0 : j0 >= sh ? sh - 1 : j0) * sw;
      const yb = (j0 + 1 < 0 ? 0 : j0 + 1 >= sh ? sh - 1 : j0 + 1) * sw;
      const p00 = (ya + xa) * C;
      const p01 = (ya + xb) * C;
      const p10 = (yb + xa) * C;
      const p11 = (yb + xb) * C;
      const o = (y * W + x) * C;
      for (let c = 0; c < C; c++) {
        const top = (src[p00 + c] as number) + ((src[p01 + c] as number) - (src[p00 + c] as number)) * wx;
        const bot = (src[p10 + c] as number) + ((src[p11 + c] as number) - (src[p10 + c] as number)) * wx;
        image[o + c] = top + (bot - top) * wy;
      }
      if (label && lab) {
        const nx = Math.min(sw - 1, Math.floor(u));
        const ny = Math.min(sh - 1, Math.floor(w));
        label[y * W + x] = lab[ny * sw + nx] as number;
      }
    }
  }
  return { image, label };
}

/** Axis-aligned case: the valid columns (independent of the row). */
function columnRange(clips: readonly Clip[], W: number): [number, number] {
  let start = 0;
  let end = W;
  for (const c of clips) {
    const [a, , cc] = c.map;
    const inside = (x: number): boolean => {
      const u = a * (x + 0.5) + cc;
      return u >= 0 && u < c.width;
    };
    const [s, e] = linearRange(a, 0.5 * a + cc, 0, c.width, W);
    let s2 = s;
    let e2 = e;
    while (s2 < e2 && !inside(s2)) s2++;
    while (e2 > s2 && !inside(e2 - 1)) e2--;
    while (s2 > 0 && inside(s2 - 1)) s2--;
    while (e2 < W && inside(e2)) e2++;
    if (e2 <= s2) return [0, 0];
    start = Math.max(start, s2);
    end = Math.min(end, e2);
  }
  return end > start ? [start, end] : [0, 0];
}

/** Axis-aligned case: whether row centre Y maps inside every clip vertically. */
function rowInside(clips: readonly Clip[], Y: number): boolean {
  for (const c of clips) {
    const v = c.map[4] * Y + c.map[5];
    if (!(v >= 0 && v < c.height)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pixel operations (on rendered Float32 HWC images)

/** OpenCV's sigma for a Gaussian kernel of size k when sigma is 0. */
export function gaussianSigma(k: number): number {
  return 0.3 * ((k - 1) * 0.5 - 1) + 0.8;
}

/** Gaussian blur with a k×k kernel (OpenCV's GaussianBlur(img, (k, k), 0): reflect-101 borders). */
export function gaussianBlur(img: ImagePlane & { data: Float32Array }, k: number): void {
  const { width: W, height: H, channels: C, data } = img;
  const r = (k - 1) / 2;
  const sigma = gaussianSigma(k);
  const kernel = new Float64Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    kernel[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    sum += kernel[i] as number;
  }
  for (let i = 0; i < k; i++) kernel[i] = (kernel[i] as number) / sum;
  const reflect = (i: number, n: number): number => {
    if (n === 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
  };
  const tmp = new Float32Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (kernel[t] as number) * (data[(y * W + reflect(x + t - r, W)) * C + c] as number);
        tmp[(y * W + x) * C + c] = acc;
      }
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (kernel[t] as number) * (tmp[(reflect(y + t - r, H) * W + x) * C + c] as number);
        data[(y * W + x) * C + c] = acc;
      }
    }
  }
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
const gray = (d: Float32Array, o: number): number => 0.299 * (d[o] as number) + 0.587 * (d[o + 1] as number) + 0.114 * (d[o + 2] as number);

/** Saturation jitter: img·(1−a) + a·gray (colour channels only). */
export function saturationJitter(img: ImagePlane & { data: Float32Array }, a: number): void {
  const { data, channels: C } = img;
  if (C < 3) return;
  for (let o = 0; o < data.length; o += C) {
    const g = gray(data, o);
    for (let c = 0; c < 3; c++) data[o + c] = clamp255((data[o + c] as number) * (1 - a) + a * g);
  }
}

/** Brightness jitter: img·(1−a). */
export function brightnessJitter(img: ImagePlane & { data: Float32Array }, a: number): void {
  const { data, channels: C } = img;
  const cc = Math.min(3, C);
  for (let o = 0; o < data.length; o += C) for (let c = 0; c < cc; c++) data[o + c] = clamp255((data[o + c] as number) * (1 - a));
}

/** Contrast jitter: img·(1−a) + a·mean(gray). */
export function contrastJitter(img: ImagePlane & { data: Float32Array }, a: number): void {
  const { data, channels: C } = img;
  const cc = Math.min(3, C);
  let mean = 0;
  const n = data.length / C;
  for (let o = 0; o < data.length; o += C) mean += C >= 3 ? gray(data, o) : (data[o] as number);
  mean /= n;
  for (let o = 0; o < data.length; o += C) for (let c = 0; c < cc; c++) data[o + c] = clamp255((data[o + c] as number) * (1 - a) + a * mean);
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

/** An eval/vis sample: resized per AUG_METHOD and padded bottom/right to EVAL_CROP_SIZE. */
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
  const [cw, ch] = o.evalCrop;
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
  for (let c = 0; c < channels; c++) {
    const t = tables[c] as Float32Array;
    for (let i = c; i < n; i += channels) out[offset + i] = t[image[i] as number] as number;
  }
}
