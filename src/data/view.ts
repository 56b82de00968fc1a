/**
 * The geometry of pdseg's augmentation (augment.ts): resize, rotation, aspect crop, flips, crop and
 * padding composed into one affine map from output pixels to source pixels, and the image sampled
 * once at the end (bilinear, edge pixels replicated; labels nearest-neighbour).
 * Affine maps are in continuous pixel coordinates (pixel i covers [i, i+1), its centre is i + 0.5).
 */
import type { ImagePlane, LabelPlane } from './planes.js';

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

/** Bilinear blend of the C channels at source offsets p00 p01 (top row) p10 p11 (bottom row) into out[o..o+C). */
function blend(src: ArrayLike<number>, out: { [i: number]: number }, o: number, C: number, p00: number, p01: number, p10: number, p11: number, wx: number, wy: number): void {
  for (let c = 0; c < C; c++) {
    const top = (src[p00 + c] as number) + ((src[p01 + c] as number) - (src[p00 + c] as number)) * wx;
    const bot = (src[p10 + c] as number) + ((src[p11 + c] as number) - (src[p10 + c] as number)) * wx;
    out[o + c] = top + (bot - top) * wy;
  }
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
  if (fills.every((x) => x === fills[0])) image.fill(fills[0] as number);
  else {
    for (let c = 0; c < C; c++) {
      const fc = fills[c] as number;
      for (let o = c; o < W * H * C; o += C) image[o] = fc;
    }
  }
  const clips = allClips(v);
  const [a, b, cc, d, e, f] = v.map;
  const axisAligned = clips.every((c) => c.map[1] === 0 && c.map[3] === 0);
  if (axisAligned && a === 1 && e === 1 && Number.isInteger(cc) && Number.isInteger(f)) {
    copyTranslated(v, clips, image, label);
    return { image, label };
  }

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
          blend(src, image, (y * W + x) * C, C, p00, p01, p10, p11, wx, wy);
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
      blend(src, image, (y * W + x) * C, C, p00, p01, p10, p11, wx, wy);
      if (label && lab) {
        const nx = Math.min(sw - 1, Math.floor(u));
        const ny = Math.min(sh - 1, Math.floor(w));
        label[y * W + x] = lab[ny * sw + nx] as number;
      }
    }
  }
  return { image, label };
}

/**
 * The map is a translation by whole pixels: every bilinear weight is 0 and every nearest pixel the
 * blend's corner, so rows of the source are copied (the same values the blend gives).
 */
function copyTranslated<T extends Float32Array | Uint8ClampedArray>(v: View, clips: readonly Clip[], image: T, label: Int32Array | null): void {
  const { width: W, height: H } = v;
  const C = v.image.channels;
  const sw = v.image.width;
  const dx = v.map[2];
  const dy = v.map[5];
  const [xs, xe] = columnRange(clips, W);
  if (xe <= xs) return;
  for (let y = 0; y < H; y++) {
    if (!rowInside(clips, y + 0.5)) continue;
    const from = (y + dy) * sw + xs + dx;
    image.set(v.image.data.subarray(from * C, (from + xe - xs) * C), (y * W + xs) * C);
    if (label && v.label) label.set(v.label.data.subarray(from, from + xe - xs), y * W + xs);
  }
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
