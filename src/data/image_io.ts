/**
 * Reading and writing images: the ONLY module of seg that imports sharp.
 *
 * Images decode with sharp (JPEG, PNG, WebP, TIFF, GIF, ...), EXIF orientation applied, to 8-bit
 * RGB (IMAGE_TYPE rgb and gray: gray images are expanded to 3 channels, an alpha channel is dropped
 * as OpenCV's IMREAD_COLOR does) or RGBA (IMAGE_TYPE rgba: the file must have an alpha channel,
 * as in pdseg). Channel order is always RGB, never BGR.
 *
 * Labels are class indices, never colours:
 *  - PNG labels decode with fast-png, so that a palette PNG (VOC's SegmentationClass) gives its
 *    palette INDICES (sharp would expand the palette to colours) and 1/2/4/16-bit PNGs give their
 *    exact values (libpng would rescale low bit depths to 0..255).
 *  - Other formats (a JPEG label is a mistake `seg check` reports, but it is readable) go through sharp.
 *  - A multi-channel label whose channels are all equal is read as gray ('gray-colour'); one with
 *    real colours is 'colour' (its luminance is returned for statistics; the loader rejects it).
 *  - Each file's own EXIF orientation is applied, to labels as well as images, so an image and
 *    its label line up as a viewer shows them.
 *
 * Every failure is a SegError of kind 'data' naming the file and, when known, the list line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { decode as decodeBmp, BmpCompression } from 'bmp-ts';
import { decode as decodePng, encode as encodePng, type DecodedPng } from 'fast-png';
import { dataError, SegError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

/** DATASET.IMAGE_TYPE. */
export type ImageType = 'rgb' | 'gray' | 'rgba';

/** An 8-bit interleaved image, row-major, `channels` values per pixel (HWC). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** A decoded image plus what `seg check` reports about the file. */
export interface DecodedImage extends RawImage {
  /** Channels stored in the file (1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha). */
  storedChannels: number;
  /** Container format as sharp names it (jpeg, png, webp, tiff, ...). */
  format: string;
  /** EXIF orientation (1 = none), already applied to `data`. */
  orientation: number;
}

/**
 * How a label file stores its indices: 'gray' (one channel, or gray + alpha), 'palette' (palette
 * PNG: the indices), 'gray-colour' (several equal channels: read as gray), 'colour' (real colours:
 * not a valid label; `data` then holds the luminance, for statistics only).
 */
export type LabelKind = 'gray' | 'palette' | 'gray-colour' | 'colour';

/** A decoded label map: one value per pixel. */
export interface DecodedLabel {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  kind: LabelKind;
  /** Container format (png, jpeg, ...), detected from the content. */
  format: string;
  orientation: number;
}

/** Where a file was referenced from, for messages: a file list and a 1-based line. */
export interface SourceRef {
  listFile: string;
  line: number;
}

const at = (ref: SourceRef | undefined): string => (ref ? ` (${ref.listFile}:${ref.line})` : '');
const refDetails = (file: string, ref: SourceRef | undefined) => (ref ? { file: ref.listFile, line: ref.line } : { file });

/** The first line of an error's message (libvips errors span several lines). */
function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}

async function readBytes(file: string, what: 'image' | 'label', ref: SourceRef | undefined): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(`cannot read ${what} ${file}${at(ref)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : reason(e)}`, {
      ...refDetails(file, ref),
      hint: code === 'ENOENT' ? 'check DATASET.DATA_DIR and the path in the file list (paths are relative to DATA_DIR)' : 'check the file',
      cause: e,
    });
  }
}

/**
 * Whether a file looks cut short, from its bytes (libvips' error text is not reliable when several
 * images decode at once): a JPEG without its end-of-image marker, a PNG without IEND, a WebP
 * shorter than its RIFF header says.
 */
export function looksTruncated(buf: Uint8Array): boolean {
  const n = buf.length;
  if (n < 12) return true;
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (let i = n - 2; i >= Math.max(2, n - 256); i--) if (buf[i] === 0xff && buf[i + 1] === 0xd9) return false;
    return true;
  }
  if (isPngBytes(buf)) {
    const tail = Buffer.from(buf.subarray(Math.max(0, n - 16))).toString('latin1');
    return !tail.includes('IEND');
  }
  if (Buffer.from(buf.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(buf.subarray(8, 12)).toString('latin1') === 'WEBP') {
    const size = (buf[4] as number) | ((buf[5] as number) << 8) | ((buf[6] as number) << 16) | ((buf[7] as number) << 24);
    return n < size + 8;
  }
  return false;
}

function undecodable(file: string, what: 'image' | 'label', ref: SourceRef | undefined, e: unknown, buf?: Uint8Array): SegError {
  const r = reason(e);
  const truncated = (buf !== undefined && looksTruncated(buf)) || /premature end|truncat|outside the bounds|unexpected end|end of file|corrupt/i.test(r);
  const known = r !== '' && !/^unknown error$/i.test(r);
  const text = truncated ? `truncated or corrupt file${known ? ` (${r})` : ''}` : known ? r : 'not a decodable image';
  return dataError(`cannot decode ${what} ${file}${at(ref)}: ${text}`, {
    ...refDetails(file, ref),
    hint: truncated ? 'the file is damaged: re-copy or re-export it, or remove its line from the list' : 'use JPEG, PNG, BMP, WebP or TIFF',
    cause: e,
  });
}

/** The largest image seg decodes, in pixels: sharp's own input limit (16383²). */
export const MAX_IMAGE_PIXELS = 0x3fff * 0x3fff;

/** Refuse an image or label above MAX_IMAGE_PIXELS before decoding it, naming its size. */
function checkPixels(file: string, what: 'image' | 'label', ref: SourceRef | undefined, width: number, height: number): void {
  if (width * height <= MAX_IMAGE_PIXELS) return;
  const mp = (n: number): string => `${Math.round(n / 1e6)} megapixels`;
  throw dataError(`${what} ${file}${at(ref)} is ${width}×${height} (${mp(width * height)}), above the ${mp(MAX_IMAGE_PIXELS)} seg decodes`, {
    ...refDetails(file, ref),
    hint: "cut it into tiles (pdseg's road data uses 1024×1024) and list the tiles instead",
  });
}

/**
 * An image file's bytes as sharp takes them. sharp has no BMP decoder (pdseg read BMP through
 * OpenCV): a BMP is decoded by bmp-ts to RGB (as OpenCV's imread gives it, alpha dropped) and
 * handed to sharp as raw pixels.
 */
interface Source {
  buf: Buffer;
  bmp?: { rgb: Buffer; width: number; height: number };
}

const isBmpBytes = (buf: Uint8Array): boolean => buf.length >= 30 && buf[0] === 0x42 && buf[1] === 0x4d;

async function readSource(file: string, what: 'image' | 'label', ref: SourceRef | undefined): Promise<Source> {
  const buf = await readBytes(file, what, ref);
  if (!isBmpBytes(buf)) return { buf };
  const width = buf.readInt32LE(18);
  const height = Math.abs(buf.readInt32LE(22));
  checkPixels(file, what, ref, width, height);
  const compression = buf.readUInt32LE(30);
  if (compression === BmpCompression.BI_RLE4 || compression === BmpCompression.BI_RLE8) {
    throw dataError(`cannot decode ${what} ${file}${at(ref)}: run-length-encoded BMP is not supported`, { ...refDetails(file, ref), hint: 'save it uncompressed (BMP) or as PNG' });
  }
  let abgr: Buffer;
  try {
    abgr = decodeBmp(buf).data;
  } catch (e) {
    throw undecodable(file, what, ref, e, buf);
  }
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[3 * p] = abgr[4 * p + 3] as number;
    rgb[3 * p + 1] = abgr[4 * p + 2] as number;
    rgb[3 * p + 2] = abgr[4 * p + 1] as number;
  }
  return { buf, bmp: { rgb, width, height } };
}

/** sharp over a Source (raw pixels for a decoded BMP). */
function open(src: Source, opts: SharpOptions = {}): Sharp {
  return src.bmp ? sharp(src.bmp.rgb, { ...opts, raw: { width: src.bmp.width, height: src.bmp.height, channels: 3 } }) : sharp(src.buf, opts);
}

/** sharp options shared by every decode: abort on truncated data instead of returning grey pixels. */
const DECODE_OPTS = { failOn: 'truncated' as const, autoOrient: true };

/** Decode an image file for the model: RGB (rgb, gray) or RGBA (rgba), EXIF orientation applied. */
export async function readImage(file: string, imageType: ImageType, ref?: SourceRef): Promise<DecodedImage> {
  const src = await readSource(file, 'image', ref);
  const buf = src.buf;
  let meta: Metadata;
  try {
    meta = await open(src, { failOn: 'truncated', limitInputPixels: false }).metadata();
  } catch (e) {
    throw undecodable(file, 'image', ref, e, buf);
  }
  checkPixels(file, 'image', ref, meta.width ?? 0, meta.height ?? 0);
  const storedChannels = meta.channels ?? 3;
  const format = src.bmp ? 'bmp' : (meta.format ?? 'unknown');
  if (imageType === 'rgba' && !meta.hasAlpha) {
    throw dataError(`image ${file}${at(ref)} has ${storedChannels} channel(s) and no alpha, but DATASET.IMAGE_TYPE is rgba`, {
      ...refDetails(file, ref),
      key: 'DATASET.IMAGE_TYPE',
      hint: 'set DATASET.IMAGE_TYPE rgb (with 3-value MEAN/STD), or give every image an alpha channel',
    });
  }
  const want = imageType === 'rgba' ? 4 : 3;
  let out: { data: Buffer; info: OutputInfo };
  try {
    let p = open(src, DECODE_OPTS);
    p = imageType === 'rgba' ? p.toColourspace('srgb').ensureAlpha() : p.removeAlpha().toColourspace('srgb');
    out = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw undecodable(file, 'image', ref, e, buf);
  }
  const { width, height, channels } = out.info;
  if (channels !== want || out.data.length !== width * height * want) {
    throw dataError(`image ${file}${at(ref)} decoded to ${channels} channel(s), expected ${want}`, { ...refDetails(file, ref), hint: 'convert the image to 8-bit RGB (or RGBA)' });
  }
  return {
    data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length),
    width,
    height,
    channels,
    storedChannels,
    format,
    orientation: meta.orientation ?? 1,
  };
}

/** Width and height of an image as displayed (EXIF orientation applied) and its stored channels, without decoding pixels. */
export async function probeImage(file: string, ref?: SourceRef): Promise<{ width: number; height: number; storedChannels: number; format: string; orientation: number }> {
  const src = await readSource(file, 'image', ref);
  let meta: Metadata;
  try {
    meta = await open(src, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw undecodable(file, 'image', ref, e, src.buf);
  }
  const o = meta.orientation ?? 1;
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  return { width: o >= 5 ? h : w, height: o >= 5 ? w : h, storedChannels: meta.channels ?? 3, format: src.bmp ? 'bmp' : (meta.format ?? 'unknown'), orientation: o };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether the bytes are a PNG (content sniffing, like pdseg's imghdr check). */
export function isPngBytes(buf: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => buf[i] === b);
}

/** PNG header facts: colour type, bit depth, and whether chunks before the pixels could alter colours (iCCP, gAMA, cHRM). */
function pngHeader(buf: Uint8Array): { width: number; height: number; colorType: number; depth: number; colourManaged: boolean } {
  const colorType = buf[25] ?? 0;
  const depth = buf[24] ?? 8;
  let colourManaged = false;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const [width, height] = buf.length >= 24 ? [view.getUint32(16), view.getUint32(20)] : [0, 0];
  for (let o = 8; o + 8 <= buf.length; ) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(buf[o + 4] ?? 0, buf[o + 5] ?? 0, buf[o + 6] ?? 0, buf[o + 7] ?? 0);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'iCCP' || type === 'gAMA' || type === 'cHRM') colourManaged = true;
    o += 12 + len;
  }
  return { width, height, colorType, depth, colourManaged };
}

/** Unpack 1/2/4-bit samples (rows padded to whole bytes) into one byte per sample. */
function unpackBits(packed: Uint8Array, width: number, height: number, samplesPerPixel: number, depth: number): Uint8Array {
  const perRow = width * samplesPerPixel;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  const perByte = 8 / depth;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const byte = packed[y * rowBytes + Math.floor(i / perByte)] ?? 0;
      const shift = 8 - depth * ((i % perByte) + 1);
      out[y * perRow + i] = (byte >> shift) & mask;
    }
  }
  return out;
}

/** BT.601 luma (OpenCV's BGR2GRAY weights), rounded. */
function luma(r: number, g: number, b: number): number {
  return Math.round(0.299 * r + 0.587 * g + 0.114 * b);
}

/** Reduce interleaved samples to one value per pixel, classifying the label. */
function toLabelPlane(samples: Uint8Array | Uint16Array, width: number, height: number, channels: number, isPalette: boolean): { data: Uint8Array | Uint16Array; kind: LabelKind } {
  const n = width * height;
  if (channels === 1) return { data: samples, kind: isPalette ? 'palette' : 'gray' };
  const out = samples instanceof Uint16Array ? new Uint16Array(n) : new Uint8Array(n);
  if (channels === 2) {
    for (let i = 0; i < n; i++) out[i] = samples[i * 2] ?? 0;
    return { data: out, kind: 'gray' };
  }
  let equal = true;
  for (let i = 0; i < n && equal; i++) {
    const o = i * channels;
    if (samples[o] !== samples[o + 1] || samples[o] !== samples[o + 2]) equal = false;
  }
  for (let i = 0; i < n; i++) {
    const o = i * channels;
    out[i] = equal ? (samples[o] ?? 0) : luma(samples[o] ?? 0, samples[o + 1] ?? 0, samples[o + 2] ?? 0);
  }
  return { data: out, kind: equal ? 'gray-colour' : 'colour' };
}

/**
 * Map output pixel (x, y) of an EXIF-oriented plane to the stored pixel. `w`, `h` are the stored
 * size. Orientations 5-8 swap width and height.
 */
export function orientedSize(w: number, h: number, orientation: number): [number, number] {
  return orientation >= 5 && orientation <= 8 ? [h, w] : [w, h];
}

/** Apply an EXIF orientation (1-8) to a one-value-per-pixel plane, as viewers display it. */
export function applyOrientation<T extends Uint8Array | Uint16Array | Int32Array>(data: T, w: number, h: number, orientation: number): { data: T; width: number; height: number } {
  if (orientation <= 1 || orientation > 8) return { data, width: w, height: h };
  const [ow, oh] = orientedSize(w, h, orientation);
  const out = new (data.constructor as new (n: number) => T)(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break; // mirror horizontal
        case 3: sx = w - 1 - x; sy = h - 1 - y; break; // rotate 180
        case 4: sx = x; sy = h - 1 - y; break; // mirror vertical
        case 5: sx = y; sy = x; break; // transpose
        case 6: sx = y; sy = h - 1 - x; break; // rotate 90 clockwise
        case 7: sx = w - 1 - y; sy = h - 1 - x; break; // transverse
        default: sx = w - 1 - y; sy = x; break; // 8: rotate 270 clockwise
      }
      out[y * ow + x] = data[sy * w + sx] as number;
    }
  }
  return { data: out, width: ow, height: oh };
}

/** Decode a label file into class indices (palette PNGs give their indices), EXIF orientation applied. */
export async function readLabel(file: string, ref?: SourceRef): Promise<DecodedLabel> {
  const src = await readSource(file, 'label', ref);
  const buf = src.buf;
  // 8-bit gray PNGs without colour management decode exactly (and natively, fast) through sharp;
  // palette, 1/2/4/16-bit and colour-managed PNGs go through fast-png, which returns stored values.
  const sharpPng = isPngBytes(buf) && (() => {
    const h = pngHeader(buf);
    return h.colorType === 0 && h.depth === 8 && !h.colourManaged;
  })();
  if (isPngBytes(buf)) {
    const h = pngHeader(buf);
    checkPixels(file, 'label', ref, h.width, h.height);
  }
  if (isPngBytes(buf) && !sharpPng) {
    let png: DecodedPng;
    try {
      png = decodePng(buf, { checkCrc: true });
    } catch (e) {
      // Every fast-png failure on a file with a PNG signature is a damaged file.
      throw undecodable(file, 'label', ref, new Error(`corrupt PNG: ${reason(e).replace(/:$/, '')}`), buf);
    }
    const { width, height, depth, channels } = png;
    const isPalette = png.palette !== undefined && channels === 1;
    let samples: Uint8Array | Uint16Array;
    if (depth < 8) samples = unpackBits(png.data as Uint8Array, width, height, channels, depth);
    else if (png.data instanceof Uint16Array) samples = png.data;
    else samples = png.data instanceof Uint8Array ? png.data : new Uint8Array(png.data);
    if (samples.length < width * height * channels) throw undecodable(file, 'label', ref, new Error('truncated pixel data'), buf);
    const plane = toLabelPlane(samples, width, height, channels, isPalette);
    let orientation = 1;
    try {
      orientation = (await sharp(buf).metadata()).orientation ?? 1;
    } catch {
      orientation = 1;
    }
    const o = applyOrientation(plane.data, width, height, orientation);
    return { data: o.data, width: o.width, height: o.height, kind: plane.kind, format: 'png', orientation };
  }
  let out: { data: Buffer; info: OutputInfo };
  let meta: Metadata;
  try {
    meta = await open(src, { failOn: 'truncated', limitInputPixels: false }).metadata();
    checkPixels(file, 'label', ref, meta.width ?? 0, meta.height ?? 0);
    // sharp converts gray to sRGB on output unless told otherwise: keep one channel for gray files.
    const p = open(src, DECODE_OPTS);
    out = await ((meta.channels ?? 3) <= 2 ? p.extractChannel(0) : p).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    if (e instanceof SegError) throw e;
    throw undecodable(file, 'label', ref, e, buf);
  }
  const { width, height, channels } = out.info;
  const samples =
    out.data.length === width * height * channels * 2
      ? new Uint16Array(out.data.buffer, out.data.byteOffset, out.data.length / 2)
      : new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
  const plane = toLabelPlane(samples, width, height, channels, false);
  const format = sharpPng ? 'png' : src.bmp ? 'bmp' : (meta.format ?? 'unknown');
  return { data: plane.data, width, height, kind: plane.kind, format, orientation: meta.orientation ?? 1 };
}

// ---------------------------------------------------------------------------------------------
// Writing

export type ImageFormat = 'png' | 'jpeg';

/** The format a file name asks for (.png, .jpg/.jpeg). */
export function formatFromPath(file: string): ImageFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  throw new SegError('usage', `cannot write ${file}: use a .png or .jpg file name`, { file });
}

/** Encode an 8-bit image (1, 2, 3 or 4 channels) as PNG or JPEG. Deterministic for a given sharp version. */
export async function encodeImage(img: RawImage, format: ImageFormat, opts: { quality?: number } = {}): Promise<Buffer> {
  let p = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 2 | 3 | 4 } });
  if (img.channels <= 2) p = p.toColourspace('b-w'); // keep gray files gray (sharp would write sRGB)
  return format === 'png' ? p.png({ compressionLevel: 6 }).toBuffer() : p.jpeg({ quality: opts.quality ?? 92 }).toBuffer();
}

/** Write an 8-bit image atomically; the format follows the extension (.png, .jpg). */
export async function writeImage(file: string, img: RawImage, opts: { quality?: number } = {}): Promise<void> {
  const buf = await encodeImage(img, formatFromPath(file), opts);
  await writeFileAtomic(file, buf, { mkdir: true });
}

/**
 * Encode class indices as a PNG: an 8-bit grayscale PNG (value = class index, IGNORE_INDEX kept),
 * or, with `palette`, an indexed PNG whose pixel values are still the indices but which viewers
 * show in colour (what `seg vis` writes, like pdseg's VOC-coloured output).
 */
export function encodeLabelPng(indices: Uint8Array, width: number, height: number, palette?: ReadonlyArray<readonly [number, number, number]>): Uint8Array {
  if (indices.length !== width * height) throw new Error(`encodeLabelPng: ${indices.length} values for ${width}x${height}`);
  if (palette) {
    return encodePng({ width, height, data: indices, depth: 8, channels: 1, palette: palette.map((c) => [c[0], c[1], c[2]]) });
  }
  return encodePng({ width, height, data: indices, depth: 8, channels: 1 });
}

/** Write class indices as a gray or palette PNG, atomically. */
export async function writeLabelPng(file: string, indices: Uint8Array, width: number, height: number, palette?: ReadonlyArray<readonly [number, number, number]>): Promise<void> {
  await writeFileAtomic(file, encodeLabelPng(indices, width, height, palette), { mkdir: true });
}

/** Render an SVG document to PNG (for `seg plot`), atomically. `density` is the DPI (72 = 1 px per SVG unit). */
export async function writeSvgAsPng(file: string, svg: string, opts: { density?: number } = {}): Promise<void> {
  const buf = await sharp(Buffer.from(svg, 'utf8'), { density: opts.density ?? 72 }).png().toBuffer();
  await writeFileAtomic(file, buf, { mkdir: true });
}

/** Render an SVG document to a PNG buffer. */
export async function svgToPng(svg: string, opts: { density?: number } = {}): Promise<Buffer> {
  return sharp(Buffer.from(svg, 'utf8'), { density: opts.density ?? 72 }).png().toBuffer();
}
