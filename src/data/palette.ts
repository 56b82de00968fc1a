/**
 * Colours for label maps: the PASCAL VOC bit colormap (what pdseg's vis writes) and an overlay of
 * a label map on an image. Pure functions on typed arrays; writing goes through image_io.ts.
 */
import type { RawImage } from './image_io.js';

export type Rgb = readonly [number, number, number];

/**
 * The PASCAL VOC colormap for `n` indices (default 256): index i gets the bits of i spread over
 * R, G, B from the most significant bit down. Index 0 is black, 1 is (128, 0, 0), 255 is
 * (224, 224, 192), VOC's boundary colour.
 */
export function vocPalette(n = 256): Rgb[] {
  const out: Rgb[] = [];
  for (let i = 0; i < n; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let lab = i;
    for (let j = 0; lab > 0; j++, lab >>= 3) {
      r |= ((lab >> 0) & 1) << (7 - j);
      g |= ((lab >> 1) & 1) << (7 - j);
      b |= ((lab >> 2) & 1) << (7 - j);
    }
    out.push([r, g, b]);
  }
  return out;
}

/** Label indices as an RGB image through a palette (indices beyond the palette are black). */
export function colorize(labels: ArrayLike<number>, width: number, height: number, palette: readonly Rgb[]): RawImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = palette[labels[i] ?? 0];
    if (!c) continue;
    data[i * 3] = c[0];
    data[i * 3 + 1] = c[1];
    data[i * 3 + 2] = c[2];
  }
  return { data, width, height, channels: 3 };
}

export interface OverlayOptions {
  /** Opacity of the label colours, 0..1 (default 0.5). */
  alpha?: number;
  /** Indices left uncoloured (default: [0], the background). */
  transparent?: readonly number[];
}

/**
 * Blend a label map over an RGB(A) image of the same size: `image*(1-alpha) + colour*alpha` on
 * every pixel whose index is not transparent. Returns a 3-channel image.
 */
export function overlay(image: RawImage, labels: ArrayLike<number>, palette: readonly Rgb[], opts: OverlayOptions = {}): RawImage {
  const { width, height, channels } = image;
  if (labels.length !== width * height) throw new Error(`overlay: ${labels.length} labels for a ${width}x${height} image`);
  const alpha = opts.alpha ?? 0.5;
  const transparent = new Set(opts.transparent ?? [0]);
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const src = i * channels;
    const r = image.data[src] ?? 0;
    const g = channels >= 3 ? (image.data[src + 1] ?? 0) : r;
    const b = channels >= 3 ? (image.data[src + 2] ?? 0) : r;
    const k = labels[i] ?? 0;
    const c = transparent.has(k) ? undefined : palette[k];
    if (c) {
      data[i * 3] = Math.round(r * (1 - alpha) + c[0] * alpha);
      data[i * 3 + 1] = Math.round(g * (1 - alpha) + c[1] * alpha);
      data[i * 3 + 2] = Math.round(b * (1 - alpha) + c[2] * alpha);
    } else {
      data[i * 3] = r;
      data[i * 3 + 1] = g;
      data[i * 3 + 2] = b;
    }
  }
  return { data, width, height, channels: 3 };
}
