/**
 * `seg check`: pdseg's check.py (reference section 2) as a function that returns a report; the CLI
 * prints it. For the train, val and test lists, in pdseg's order:
 *   DATASET.SEPARATOR check (parts per line), dataset reading check (every image and label decodes),
 *   label gray check, label format check (PNG, by content), label pixel statistics, label class
 *   check (values in [0, NUM_CLASSES-1] or IGNORE_INDEX, smallest value 0), DATASET.IMAGE_TYPE
 *   check, max image size, shape check (image and label sizes), then loss check (train) or
 *   EVAL_CROP_SIZE check (val, test); finally the INF_RESIZE_VALUE warning for rangescaling.
 * seg adds the foreground fraction of every class on the training labels, with a hint towards the
 * Lovász losses when a class covers under 10% of the labelled pixels.
 *
 * Differences from pdseg: a missing list is a NOT PASS instead of a crash; labels are read exactly
 * as the loader reads them (palette PNGs as indices, EXIF orientation applied, equal-channel RGB
 * labels as gray); the EVAL_CROP_SIZE check computes the resized size of every image with the
 * loader's own rule instead of pdseg's aspect-ratio estimate; the INF_RESIZE_VALUE warning
 * compares against MIN and MAX (pdseg compared against MIN twice); the loss check includes
 * lovasz_hinge_loss.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SegConfig } from '../config/schema.js';
import type { RunContext } from '../util/context.js';
import { SegError } from '../util/errors.js';
import { pipelineOptions, resizedSize } from './augment.js';
import { labelsRequired, listFileFor, listKeyFor, parseFileList, type ListEntry } from './file_list.js';
import { readImage, readLabel, type DecodedLabel } from './image_io.js';
import { escapeControls } from '../util/text.js';

export type CheckSplit = 'train' | 'val' | 'test';

/** One PASS / NOT PASS line and what it found. */
export interface CheckItem {
  /** Stable id: separator, reading, label_gray, label_format, label_class, image_type, shape, loss, eval_crop_size. */
  id: string;
  /** pdseg's wording, e.g. "dataset reading check". */
  title: string;
  pass: boolean;
  /** PASS with a warning (e.g. IMAGE_TYPE rgb but every image is RGBA). */
  warning?: string;
  /** Summary lines printed under the PASS/NOT PASS line. */
  messages: string[];
  /** Offending lines (`list:line: text: problem`), written to the detail log. */
  offending: string[];
}

export interface LabelStat {
  value: number;
  pixels: number;
  /** pixels / all label pixels of the split, 4 decimals (as pdseg). */
  ratio: number;
}

export interface SplitReport {
  split: CheckSplit;
  listFile: string;
  /** Non-empty lines of the list (0 when it cannot be read). */
  lines: number;
  hasLabels: boolean;
  checks: CheckItem[];
  labelStats: LabelStat[];
  maxWidth: number;
  maxHeight: number;
  /** width / height over the images (val and test; null when no image was read). */
  minAspectRatio: number | null;
  maxAspectRatio: number | null;
  /** Channel counts stored in the image files. */
  channels: number[];
  /** The smallest EVAL_CROP_SIZE every image of the split fits in after the eval resize (val, test). */
  evalCropNeeded: [number, number] | null;
}

export interface ClassFraction {
  index: number;
  name: string;
  pixels: number;
  /** Share of the labelled (non-ignored) training pixels. */
  fraction: number;
  /** A foreground class under 10% of the labelled pixels. */
  rare: boolean;
}

export interface CheckReport {
  /** Every check of every split passed, and the memory check. */
  pass: boolean;
  splits: SplitReport[];
  /** Whether a training step at BATCH_SIZE × TRAIN_CROP_SIZE fits in this machine's memory. */
  memory: CheckItem;
  /** Class shares on the training labels (empty when nothing could be read). */
  classFractions: ClassFraction[];
  /** Advice (rare classes) and warnings (INF_RESIZE_VALUE). */
  hints: string[];
  warnings: string[];
}

export interface CheckOptions {
  cwd?: string;
  /** Samples decoded at the same time (default 4). */
  concurrency?: number;
  /**
   * The configured losses that need a one-channel head (bce, dice, lovasz_hinge), for the loss
   * check. The caller derives them from the loss registry (src/data does not import the losses,
   * which import tfjs); default: none.
   */
  oneChannelLosses?: readonly string[];
  /** Every loss the run uses at some epoch (SOLVER.LOSS and its LOSS_STAGES), for the Lovász hint; default SOLVER.LOSS. */
  losses?: readonly string[];
}

/**
 * Peak memory of a training step, as a base plus bytes per input pixel (batch × crop): measured
 * with `npm run bench` (DeepLabv3+/MobileNetV2 ×1.0, ASPP and decoder): peak RSS 0.90 GB at 2×256²
 * and 2.76 GB at 2×512² (docs/performance.md). Narrower backbones need less; this is an upper guide.
 */
export const STEP_MEMORY = { baseBytes: 0.3e9, bytesPerPixel: 4.8e3 } as const;

/** NOT PASS when a training step would need more than the machine's memory; a warning above what is free now. */
export function memoryCheck(cfg: SegConfig, totalBytes = os.totalmem(), freeBytes = os.freemem()): CheckItem {
  const [w = 0, h = 0] = cfg.TRAIN_CROP_SIZE;
  const need = STEP_MEMORY.baseBytes + STEP_MEMORY.bytesPerPixel * cfg.BATCH_SIZE * w * h;
  const gb = (b: number): string => `${(b / 1e9).toFixed(1)} GB`;
  const line = `a training step at BATCH_SIZE ${cfg.BATCH_SIZE} × TRAIN_CROP_SIZE (${w}, ${h}) needs about ${gb(need)}; this machine has ${gb(totalBytes)} (${gb(freeBytes)} free)`;
  const pass = need <= totalBytes;
  return {
    id: 'memory',
    title: 'training memory check',
    pass,
    ...(pass && need > freeBytes ? { warning: `${line}: other programs may have to give memory back` } : {}),
    messages: pass ? [line] : [line, 'lower BATCH_SIZE (SOLVER.ACCUMULATE_STEPS keeps the effective batch) or TRAIN_CROP_SIZE'],
    offending: [],
  };
}

/** A class under this share of the labelled pixels gets the Lovász hint. */
export const RARE_CLASS_FRACTION = 0.1;

interface LineResult {
  entry: ListEntry;
  error?: string;
  width?: number;
  height?: number;
  channels?: number;
  label?: DecodedLabel;
  labelError?: boolean;
}

const show = (e: ListEntry): string => `${e.listFile}:${e.line}: ${e.label === undefined ? e.image : `${e.image} | ${e.label}`}`;

async function readLine(entry: ListEntry): Promise<LineResult> {
  const ref = { listFile: entry.listFile, line: entry.line };
  try {
    const [img, label] = await Promise.all([readImage(entry.imagePath, 'rgb', ref), entry.labelPath === undefined ? Promise.resolve(undefined) : readLabel(entry.labelPath, ref)]);
    return { entry, width: img.width, height: img.height, channels: img.storedChannels, ...(label ? { label } : {}) };
  } catch (e) {
    if (e instanceof SegError) return { entry, error: e.message };
    throw e;
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>, signal: AbortSignal): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length && !signal.aborted) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
  return out;
}

const item = (id: string, title: string, pass: boolean, messages: string[], offending: string[] = [], warning?: string): CheckItem => ({
  id,
  title,
  pass,
  messages,
  offending,
  ...(warning !== undefined ? { warning } : {}),
});

async function checkSplit(cfg: SegConfig, split: CheckSplit, ctx: RunContext, opts: Required<CheckOptions>): Promise<SplitReport> {
  const listFile = listFileFor(cfg, split);
  const base = path.basename(listFile);
  const C = cfg.DATASET.NUM_CLASSES;
  const ignore = cfg.DATASET.IGNORE_INDEX;
  const report: SplitReport = {
    split,
    listFile,
    lines: 0,
    hasLabels: false,
    checks: [],
    labelStats: [],
    maxWidth: 0,
    maxHeight: 0,
    minAspectRatio: null,
    maxAspectRatio: null,
    channels: [],
    evalCropNeeded: null,
  };
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(opts.cwd, listFile), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    report.checks.push(item('separator', `${base} DATASET.SEPARATOR check`, false, [`cannot read ${listKeyFor(cfg, split)} ${listFile}: ${code === 'ENOENT' ? 'no such file' : String(code)}`], [`${listFile}: cannot read the list`]));
    return report;
  }
  const parsed = parseFileList(text, listFile, { dataDir: cfg.DATASET.DATA_DIR, separator: cfg.DATASET.SEPARATOR, requireLabels: labelsRequired(split), cwd: opts.cwd });
  report.lines = parsed.entries.length + parsed.bad.length;
  report.hasLabels = parsed.entries.some((e) => e.label !== undefined);

  // 1. Separator.
  const sepBad = parsed.bad.map((b) => `${listFile}:${b.line}: ${b.text}: ${b.parts} part(s), expected ${labelsRequired(split) ? 2 : '1 or 2'}`);
  report.checks.push(
    item(
      'separator',
      `${base} DATASET.SEPARATOR check`,
      sepBad.length === 0 && report.lines > 0,
      sepBad.length > 0 ? [`${sepBad.length} line(s) are not separated by ${JSON.stringify(cfg.DATASET.SEPARATOR)}`] : report.lines === 0 ? ['the list is empty'] : [],
      sepBad,
    ),
  );

  // Read every line.
  const bar = ctx.progress(`checking ${split}`, parsed.entries.length);
  let results: LineResult[];
  try {
    results = await mapLimit(
      parsed.entries,
      opts.concurrency,
      async (e) => {
        const r = await readLine(e);
        bar.increment();
        return r;
      },
      ctx.signal,
    );
  } finally {
    bar.stop();
  }
  if (ctx.signal.aborted) throw new SegError('interrupted', 'seg check interrupted', { hint: 'run it again' });

  const readFailed: string[] = [];
  const notGray: string[] = [];
  const notPng: string[] = [];
  const outOfRange: string[] = [];
  const shapeBad: string[] = [];
  const counts = new Map<number, number>();
  const channels = new Set<number>();
  let pngCount = 0;
  let labelCount = 0;
  let minAr = Infinity;
  let maxAr = 0;
  let needW = 0;
  let needH = 0;
  const po = pipelineOptions(cfg);
  for (const r of results) {
    if (r.error !== undefined) {
      readFailed.push(`${show(r.entry)}: ${r.error}`);
      continue;
    }
    const w = r.width as number;
    const h = r.height as number;
    report.maxWidth = Math.max(report.maxWidth, w);
    report.maxHeight = Math.max(report.maxHeight, h);
    if (split !== 'train') {
      minAr = Math.min(minAr, w / h);
      maxAr = Math.max(maxAr, w / h);
      const [rw, rh] = resizedSize(po, w, h, null);
      needW = Math.max(needW, rw);
      needH = Math.max(needH, rh);
    }
    channels.add(r.channels as number);
    const label = r.label;
    if (!label) continue;
    labelCount++;
    if (label.kind === 'colour') notGray.push(`${show(r.entry)}: the label is a colour image (${label.format})`);
    if (label.format === 'png') pngCount++;
    else notPng.push(`${show(r.entry)}: the label is ${label.format}, not PNG`);
    if (label.width !== w || label.height !== h) shapeBad.push(`${show(r.entry)}: image ${w}x${h}, label ${label.width}x${label.height}`);
    const local = new Map<number, number>();
    const d = label.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i] as number;
      local.set(v, (local.get(v) ?? 0) + 1);
    }
    const bad: number[] = [];
    for (const [v, n] of local) {
      counts.set(v, (counts.get(v) ?? 0) + n);
      if (v !== ignore && (v < 0 || v > C - 1)) bad.push(v);
    }
    if (bad.length > 0) outOfRange.push(`${show(r.entry)}: value(s) ${bad.sort((a, b) => a - b).join(', ')} outside [0, ${C - 1}]`);
  }
  if (split !== 'train' && Number.isFinite(minAr)) {
    report.minAspectRatio = minAr;
    report.maxAspectRatio = maxAr;
    report.evalCropNeeded = [needW, needH];
  }
  report.channels = [...channels].sort((a, b) => a - b);

  // 2. Reading.
  report.checks.push(
    item('reading', 'dataset reading check', readFailed.length === 0, readFailed.length === 0 ? ['All images can be read successfully'] : [`Failed to read ${readFailed.length} images`], readFailed),
  );
  const labelled = report.hasLabels;
  if (labelled) {
    // 3. Gray labels.
    report.checks.push(
      item('label_gray', 'label gray check', notGray.length === 0, notGray.length === 0 ? ['All label images are gray'] : [`${notGray.length} label images are not gray`, 'Label pixel statistics may be insignificant'], notGray),
    );
    // 4. PNG.
    report.checks.push(
      item(
        'label_format',
        'label format check',
        notPng.length === 0 && pngCount > 0,
        pngCount + notPng.length === 0 ? ['No label image to check'] : [`total ${pngCount} label images are png format, ${notPng.length} label images are not png format`],
        notPng,
      ),
    );
    // 5. Statistics.
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    report.labelStats = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([value, pixels]) => ({ value, pixels, ratio: total > 0 ? Math.round((pixels / total) * 1e4) / 1e4 : 0 }));
    // 6. Class range.
    const smallest = report.labelStats[0]?.value;
    const startsAt0 = smallest === 0 || (smallest === ignore && report.labelStats.length === 1);
    const classMsgs: string[] = [];
    if (!startsAt0 && smallest !== undefined) classMsgs.push('Warning: label classes should start from 0');
    if (outOfRange.length > 0) classMsgs.push(`fatal error: label class is out of range [0, ${C - 1}] in ${outOfRange.length} label(s)`);
    report.checks.push(item('label_class', 'label class check', outOfRange.length === 0 && startsAt0 && labelCount > 0, classMsgs, outOfRange));
  }
  // 7. IMAGE_TYPE.
  const type = cfg.DATASET.IMAGE_TYPE;
  const noAlpha = report.channels.some((c) => c === 1 || c === 3);
  if (type === 'rgba' && noAlpha) {
    report.checks.push(item('image_type', 'DATASET.IMAGE_TYPE check', false, [`DATASET.IMAGE_TYPE is rgba but some images are gray or rgb (channels: ${report.channels.join(', ')})`]));
  } else if (type !== 'rgba' && report.channels.length > 0 && !noAlpha) {
    report.checks.push(item('image_type', 'DATASET.IMAGE_TYPE check', true, [], [], `DATASET.IMAGE_TYPE is ${type} but every image has an alpha channel (it is dropped)`));
  } else {
    report.checks.push(item('image_type', 'DATASET.IMAGE_TYPE check', true, []));
  }
  // 9. Shapes.
  if (labelled) {
    report.checks.push(
      item('shape', 'shape check', shapeBad.length === 0, shapeBad.length === 0 ? ['All images are the same shape as the labels'] : [`${shapeBad.length} images are not the same shape as their labels`], shapeBad),
    );
  }
  // 10. Loss (train) or EVAL_CROP_SIZE (val, test).
  if (split === 'train') {
    const oneChannel = [...opts.oneChannelLosses];
    const ok = !(C > 2 && oneChannel.length > 0);
    report.checks.push(item('loss', 'loss check', ok, ok ? [] : [`${oneChannel.join(', ')} only apply to binary segmentation, but NUM_CLASSES is ${C}`]));
  } else {
    report.checks.push(evalCropCheck(cfg, report));
  }
  return report;
}

function evalCropCheck(cfg: SegConfig, r: SplitReport): CheckItem {
  const [cw = 0, ch = 0] = cfg.EVAL_CROP_SIZE;
  const need = r.evalCropNeeded;
  if (!need) return item('eval_crop_size', 'EVAL_CROP_SIZE check', false, ['no image could be read to check EVAL_CROP_SIZE']);
  const method = cfg.AUG.AUG_METHOD;
  const what =
    method === 'unpadding'
      ? `AUG.FIX_RESIZE_SIZE (${cfg.AUG.FIX_RESIZE_SIZE.join(', ')})`
      : method === 'stepscaling'
        ? `the largest image (${r.maxWidth}, ${r.maxHeight}); stepscaling does not resize at eval time`
        : `the largest image resized to long side AUG.INF_RESIZE_VALUE ${cfg.AUG.INF_RESIZE_VALUE} (${need[0]}, ${need[1]})`;
  if (cw >= need[0] && ch >= need[1]) return item('eval_crop_size', 'EVAL_CROP_SIZE check', true, [`satisfy current EVAL_CROP_SIZE: (${cw},${ch}) >= ${what}`]);
  if (cfg.TEST.MODE !== 'pad') return item('eval_crop_size', 'EVAL_CROP_SIZE check', true, [`TEST.MODE ${cfg.TEST.MODE} evaluates each image at its own size: EVAL_CROP_SIZE (${cw},${ch}) need not fit ${what}`]);
  const msgs: string[] = [];
  if (cw < need[0]) msgs.push(`EVAL_CROP_SIZE[0]: ${cw} should >= ${need[0]}`);
  if (ch < need[1]) msgs.push(`EVAL_CROP_SIZE[1]: ${ch} should >= ${need[1]}`);
  msgs.push(`EVAL_CROP_SIZE must fit ${what}: set EVAL_CROP_SIZE (${Math.max(cw, need[0])}, ${Math.max(ch, need[1])}), or TEST.MODE whole or slide to evaluate at any size`);
  return item('eval_crop_size', 'EVAL_CROP_SIZE check', false, msgs);
}

/** Class shares of the labelled training pixels, and the Lovász hint for rare classes. */
function classFractions(cfg: SegConfig, train: SplitReport | undefined, losses: readonly string[]): { fractions: ClassFraction[]; hints: string[] } {
  if (!train || train.labelStats.length === 0) return { fractions: [], hints: [] };
  const C = cfg.DATASET.NUM_CLASSES;
  const names = cfg.DATASET.CLASS_NAMES ?? Array.from({ length: C }, (_, i) => (i === 0 ? 'background' : `class ${i}`));
  const byValue = new Map(train.labelStats.map((s) => [s.value, s.pixels]));
  let labelled = 0;
  for (let c = 0; c < C; c++) labelled += byValue.get(c) ?? 0;
  const fractions = Array.from({ length: C }, (_, c): ClassFraction => {
    const pixels = byValue.get(c) ?? 0;
    const fraction = labelled > 0 ? pixels / labelled : 0;
    return { index: c, name: names[c] ?? `class ${c}`, pixels, fraction, rare: c > 0 && fraction < RARE_CLASS_FRACTION };
  });
  const rare = fractions.filter((f) => f.rare);
  const hints: string[] = [];
  if (rare.length > 0) {
    const list = rare.map((f) => `${f.index} (${f.name}) ${(100 * f.fraction).toFixed(2)}%`).join(', ');
    const binary = C <= 2;
    const lovasz = binary ? 'lovasz_hinge_loss' : 'lovasz_softmax_loss';
    if (losses.includes(lovasz)) {
      hints.push(`rare class(es) under ${RARE_CLASS_FRACTION * 100}% of the labelled pixels: ${list}; the losses already include ${lovasz}, which optimises IoU directly`);
    } else {
      const mix = binary ? "['lovasz_hinge_loss','bce_loss']" : "['lovasz_softmax_loss','softmax_loss']";
      hints.push(
        `rare class(es) under ${RARE_CLASS_FRACTION * 100}% of the labelled pixels: ${list}. Cross-entropy alone tends to under-predict them; a Lovász mix optimises IoU directly: SOLVER.LOSS "${mix}" (e.g. LOSS_WEIGHT ${binary ? '0.5/0.5' : '0.2/0.8'}, as pdseg's lovasz configs)`,
      );
    }
  }
  return { fractions, hints };
}

/** Run every check (see the module comment). */
export async function checkDataset(cfg: SegConfig, ctx: RunContext, opts: CheckOptions = {}): Promise<CheckReport> {
  const o: Required<CheckOptions> = { cwd: opts.cwd ?? process.cwd(), concurrency: opts.concurrency ?? 4, oneChannelLosses: opts.oneChannelLosses ?? [], losses: opts.losses ?? cfg.SOLVER.LOSS };
  const splits: SplitReport[] = [];
  for (const split of ['train', 'val', 'test'] as const) {
    ctx.log.info(`checking the ${split} list ${listFileFor(cfg, split)}`);
    splits.push(await checkSplit(cfg, split, ctx, o));
  }
  const warnings: string[] = [];
  const a = cfg.AUG;
  if (a.AUG_METHOD === 'rangescaling' && (a.INF_RESIZE_VALUE < a.MIN_RESIZE_VALUE || a.INF_RESIZE_VALUE > a.MAX_RESIZE_VALUE)) {
    warnings.push(`AUG.AUG_METHOD is rangescaling but AUG.INF_RESIZE_VALUE ${a.INF_RESIZE_VALUE} is not in [AUG.MIN_RESIZE_VALUE, AUG.MAX_RESIZE_VALUE] = [${a.MIN_RESIZE_VALUE}, ${a.MAX_RESIZE_VALUE}]`);
  }
  for (const s of splits) for (const c of s.checks) if (c.warning) warnings.push(`${s.split}: ${c.warning}`);
  const memory = memoryCheck(cfg);
  if (memory.warning) warnings.push(memory.warning);
  const { fractions, hints } = classFractions(cfg, splits.find((s) => s.split === 'train'), o.losses);
  return { pass: memory.pass && splits.every((s) => s.checks.every((c) => c.pass)), splits, memory, classFractions: fractions, hints, warnings };
}

/** The console report: pdseg's layout (PASS / NOT PASS lines with summaries), one split after another. */
export function formatReport(r: CheckReport, cfg: SegConfig): string {
  const out: string[] = [];
  r.splits.forEach((s, i) => {
    out.push('-----------------------------');
    out.push(`${i + 1}. Check ${s.split} dataset (${s.listFile}, ${s.lines} lines)...`);
    for (const c of s.checks) {
      out.push(`${c.pass ? 'PASS' : 'NOT PASS'} ${c.title}`);
      for (const m of c.messages) out.push(`  ${m}`);
      if (c.warning) out.push(`  WARNING: ${c.warning}`);
      if (c.offending.length > 0) out.push(`  ${c.offending.length} offending line(s), e.g. ${c.offending[0]}`);
      if (c.id === 'label_format' && s.labelStats.length > 0) {
        out.push('Label pixel statistics (label class, total pixel number, percentage):');
        for (const st of s.labelStats) out.push(`  ${st.value}${st.value === cfg.DATASET.IGNORE_INDEX ? ' (ignore)' : ''}: ${st.pixels} (${(st.ratio * 100).toFixed(2)}%)`);
      }
      if (c.id === 'image_type') out.push(`max width and max height of images are (${s.maxWidth},${s.maxHeight})`);
    }
  });
  out.push('-----------------------------');
  out.push(`${r.memory.pass ? 'PASS' : 'NOT PASS'} ${r.memory.title}`);
  for (const m of r.memory.messages) out.push(`  ${m}`);
  if (r.classFractions.length > 0) {
    out.push('Class share of the labelled training pixels:');
    for (const f of r.classFractions) out.push(`  ${f.index} ${f.name}: ${(100 * f.fraction).toFixed(2)}%${f.rare ? ' (rare)' : ''}`);
  }
  for (const w of r.warnings) out.push(`WARNING: ${w}`);
  for (const h of r.hints) out.push(`hint: ${h}`);
  const failed = [...r.splits.flatMap((s) => s.checks.filter((c) => !c.pass).map((c) => `${s.split}: ${c.title}`)), ...(r.memory.pass ? [] : [r.memory.title])];
  out.push(r.pass ? 'All checks PASS' : `NOT PASS: ${failed.join('; ')}`);
  return out.join('\n');
}

/** The detail log: every offending line, per split and check. */
export function detailLog(r: CheckReport): string {
  const out: string[] = [`seg check detail log: ${r.pass ? 'all checks PASS' : 'some checks NOT PASS'}`];
  for (const s of r.splits) {
    for (const c of s.checks) {
      if (c.offending.length === 0 && c.pass) continue;
      out.push('');
      out.push(`[${s.split}] ${c.pass ? 'PASS' : 'NOT PASS'} ${c.title}`);
      for (const m of c.messages) out.push(`  ${m}`);
      for (const o of c.offending) out.push(o);
    }
  }
  return `${escapeControls(out.join('\n'))}\n`;
}
