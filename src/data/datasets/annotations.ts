/**
 * pdseg's annotation tools (pdseg/tools): labelme2seg.py, jingling2seg.py and gray2pseudo_color.py.
 *
 * `labelme DIR` / `jingling DIR`: every `DIR/*.json` (labelme's, or JingLing's export) becomes
 * `DIR/annotations/<name>.png`, a VOC-palette PNG whose pixel values are class indices, and
 * `DIR/class_names.txt` lists the classes: `_background_` (0), then every label name in the order
 * the files (sorted by name; pdseg took the file system's order) first use it. Shapes are drawn in
 * file order, later ones over earlier ones, with Pillow's polygon rule (vertices truncated to
 * integers, edges included), as pdseg drew them. labelme's rectangles and circles are drawn too
 * (pdseg refused them); lines and points have no area and are skipped with a warning.
 *
 * `pseudo-color IN OUT`: gray label images (a folder, walked, or a file list with --dataset_dir and
 * --separator) rewritten under OUT as VOC-palette PNGs with the same indices, so that viewers show
 * the classes in colour.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunContext } from '../../util/context.js';
import { dataError, usageError } from '../../util/errors.js';
import { isInside, writeFileAtomicSync } from '../../util/atomic.js';
import { probeImage, readLabel, writeLabelPng } from '../image_io.js';
import { vocPalette } from '../palette.js';

type Point = readonly [number, number];

/** A shape to draw: its class name and the polygon (or disk) it covers. */
interface Shape {
  label: string;
  kind: 'polygon' | 'circle';
  points: Point[];
}

interface Annotation {
  file: string;
  width: number;
  height: number;
  shapes: Shape[];
}

const BACKGROUND = '_background_';

const ROUND_UP = (f: number): number => (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(-f + 0.5));
const ROUND_DOWN = (f: number): number => (f >= 0 ? Math.ceil(f - 0.5) : -Math.ceil(-f - 0.5));

/**
 * Fill `points` with `value` in `label` (width × height) as Pillow's ImageDraw.polygon(fill) does:
 * vertices truncated to integers, horizontal edges drawn as rows, and each scan line y (pixel rows)
 * filled from ROUND_UP of the left crossing to ROUND_DOWN of the right one, both included.
 */
export function fillPolygon(label: Uint8Array, width: number, height: number, points: readonly Point[], value: number): void {
  const p = points.map(([x, y]) => [Math.trunc(x), Math.trunc(y)] as const);
  const row = (x0: number, y: number, x1: number): void => {
    if (y < 0 || y >= height) return;
    for (let x = Math.max(0, x0); x <= Math.min(width - 1, x1); x++) label[y * width + x] = value;
  };
  const edges: Array<{ x0: number; y0: number; ymin: number; ymax: number; dx: number }> = [];
  let ymin = height - 1;
  let ymax = 0;
  p.forEach(([x0, y0], i) => {
    const [x1, y1] = p[(i + 1) % p.length] as readonly [number, number];
    if (x0 === x1 && y0 === y1) return;
    ymin = Math.min(ymin, y0, y1);
    ymax = Math.max(ymax, y0, y1);
    if (y0 === y1) row(Math.min(x0, x1), y0, Math.max(x0, x1));
    else edges.push({ x0, y0, ymin: Math.min(y0, y1), ymax: Math.max(y0, y1), dx: (x1 - x0) / (y1 - y0) });
  });
  for (let y = Math.max(0, ymin); y <= Math.min(height, ymax); y++) {
    const xs: number[] = [];
    for (const e of edges) {
      if (y < e.ymin || y > e.ymax) continue;
      xs.push(Math.fround((y - e.y0) * e.dx + e.x0));
      if (y === e.ymax && y < ymax) xs.push(xs[xs.length - 1] as number); // a vertex where two edges meet counts twice
    }
    xs.sort((a, b) => a - b);
    for (let i = 1; i < xs.length; i += 2) row(ROUND_UP(xs[i - 1] as number), y, ROUND_DOWN(xs[i] as number));
  }
}

function fillDisk(label: Uint8Array, width: number, height: number, [cx, cy]: Point, [ex, ey]: Point, value: number): void {
  const r2 = (ex - cx) ** 2 + (ey - cy) ** 2;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r2) label[y * width + x] = value;
}

function readJson(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw dataError(`cannot read annotation ${file}: ${e instanceof Error ? e.message : String(e)}`, { file, hint: 'the file is not a valid annotation JSON; fix or remove it' });
  }
}

const isPoint = (p: unknown): p is Point => Array.isArray(p) && p.length >= 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]);

/** labelme's JSON: shapes [{label, points, shape_type}], imagePath, imageWidth/imageHeight. */
async function readLabelme(file: string, log: RunContext['log']): Promise<Annotation> {
  const data = readJson(file);
  const shapes: Shape[] = [];
  const raw = Array.isArray(data['shapes']) ? (data['shapes'] as Array<Record<string, unknown>>) : [];
  raw.forEach((s, i) => {
    const label = String(s['label'] ?? '');
    const type = typeof s['shape_type'] === 'string' ? s['shape_type'] : 'polygon';
    const pts = Array.isArray(s['points']) ? (s['points'] as unknown[]).filter(isPoint) : [];
    const where = `${file}: shape ${i} (${JSON.stringify(label)}, ${type})`;
    if (type === 'rectangle' && pts.length === 2) {
      const [[x0, y0], [x1, y1]] = pts as [Point, Point];
      shapes.push({ label, kind: 'polygon', points: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]] });
    } else if (type === 'circle' && pts.length === 2) {
      shapes.push({ label, kind: 'circle', points: pts });
    } else if (type === 'polygon') {
      if (pts.length < 3) throw dataError(`${where} has ${pts.length} points; a polygon needs at least 3`, { file, hint: 'fix the shape in labelme or delete it' });
      shapes.push({ label, kind: 'polygon', points: pts });
    } else {
      log.warn(`${where}: no area to label, skipped`);
    }
  });
  let width = Number(data['imageWidth']);
  let height = Number(data['imageHeight']);
  if (!(width > 0 && height > 0)) {
    if (typeof data['imagePath'] !== 'string') throw dataError(`${file} gives neither imageWidth/imageHeight nor imagePath`, { file, hint: 'save the annotation again with labelme' });
    ({ width, height } = await probeImage(path.join(path.dirname(file), data['imagePath'])));
  }
  return { file, width, height, shapes };
}

/** JingLing's export: outputs.object [{name, polygon: {x1, y1, x2, y2, ...}}], size {width, height}. */
async function readJingling(file: string): Promise<Annotation | undefined> {
  const data = readJson(file);
  const size = data['size'] as { width?: unknown; height?: unknown } | undefined;
  if (!size) return undefined; // pdseg skips these too
  const objects = ((data['outputs'] as { object?: unknown } | undefined)?.object ?? []) as Array<Record<string, unknown>>;
  const shapes: Shape[] = [];
  for (const o of Array.isArray(objects) ? objects : []) {
    const poly = o['polygon'] as Record<string, number> | undefined;
    if (!poly) continue;
    const points: Point[] = [];
    for (let i = 1; `x${i}` in poly; i++) points.push([Number(poly[`x${i}`]), Number(poly[`y${i}`])]);
    if (points.length < 3) throw dataError(`${file}: object ${JSON.stringify(o['name'])} has ${points.length} points; a polygon needs at least 3`, { file });
    shapes.push({ label: String(o['name'] ?? ''), kind: 'polygon', points });
  }
  return { file, width: Number(size.width), height: Number(size.height), shapes };
}

export interface ConvertResult {
  classNames: string[];
  written: string[];
  classFile: string;
}

/** `seg dataset labelme|jingling DIR`: label PNGs and class_names.txt (see the module comment). */
export async function annotationsToLabels(dir: string, format: 'labelme' | 'jingling', ctx: RunContext): Promise<ConvertResult> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw usageError(`${dir} is not a folder`, { hint: `give the folder that holds the ${format} JSON files` });
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.json'))
    .sort();
  if (files.length === 0) throw dataError(`no *.json annotation files in ${dir}`, { file: dir, hint: `export the ${format} annotations as JSON into that folder` });
  const annotations: Annotation[] = [];
  for (const f of files) {
    const a = format === 'labelme' ? await readLabelme(path.join(dir, f), ctx.log) : await readJingling(path.join(dir, f));
    if (a) annotations.push(a);
  }
  const classNames = [BACKGROUND];
  for (const a of annotations) for (const s of a.shapes) if (!classNames.includes(s.label)) classNames.push(s.label);
  if (classNames.length > 256) throw dataError(`${classNames.length} classes do not fit 8-bit label PNGs`, { file: dir, hint: 'merge label names (at most 255 besides the background)' });
  const palette = vocPalette();
  const out = path.join(dir, 'annotations');
  const written: string[] = [];
  for (const a of annotations) {
    const label = new Uint8Array(a.width * a.height);
    for (const s of a.shapes) {
      const value = classNames.indexOf(s.label);
      if (s.kind === 'circle') fillDisk(label, a.width, a.height, s.points[0] as Point, s.points[1] as Point, value);
      else fillPolygon(label, a.width, a.height, s.points, value);
    }
    const png = path.join(out, `${path.basename(a.file, path.extname(a.file))}.png`);
    await writeLabelPng(png, label, a.width, a.height, palette);
    written.push(png);
  }
  const classFile = path.join(dir, 'class_names.txt');
  writeFileAtomicSync(classFile, classNames.join('\n'));
  return { classNames, written, classFile };
}

/** `seg dataset pseudo-color IN OUT`: the labels of a folder or file list as VOC-palette PNGs under OUT. */
export async function pseudoColor(input: string, outDir: string, opts: { datasetDir?: string | undefined; separator?: string | undefined }): Promise<string[]> {
  const pairs: Array<[string, string]> = []; // [label file, path under outDir]
  if (fs.existsSync(input) && fs.statSync(input).isDirectory()) {
    for (const rel of fs.readdirSync(input, { recursive: true, encoding: 'utf8' }).sort()) {
      if (fs.statSync(path.join(input, rel)).isFile()) pairs.push([path.join(input, rel), rel]);
    }
  } else if (fs.existsSync(input)) {
    if (opts.datasetDir === undefined || opts.separator === undefined) throw usageError(`${input} is a file list: give --dataset_dir and --separator too`, { hint: "e.g. --dataset_dir dataset/my_data --separator '|'" });
    fs.readFileSync(input, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.trim() === '') return;
        const label = line.trim().split(opts.separator as string)[1];
        if (label === undefined) throw dataError(`${input}:${i + 1}: no label after the separator ${JSON.stringify(opts.separator)}`, { file: input, line: i + 1 });
        pairs.push([path.join(opts.datasetDir as string, label), label]);
      });
  } else {
    throw usageError(`${input} is neither a folder nor a file list`, { hint: 'give a folder of gray label images or a file list' });
  }
  const palette = vocPalette();
  const written: string[] = [];
  for (const [file, rel] of pairs) {
    const label = await readLabel(file);
    if (label.data.some((v) => v > 255)) throw dataError(`label ${file} has values above 255, which a palette PNG cannot hold`, { file });
    const out = path.resolve(outDir, rel.replace(/\.[^./\\]*$/, '') + '.png');
    if (!isInside(out, outDir)) throw dataError(`label path ${JSON.stringify(rel)} would be written outside ${outDir}`, { file: input, hint: 'label paths in a file list are relative to --dataset_dir and must stay below it' });
    await writeLabelPng(out, Uint8Array.from(label.data), label.width, label.height, palette);
    written.push(out);
  }
  return written;
}
