/**
 * What `seg experiment` writes besides the runs (experiment.ts): results.md, the curves of
 * validation mIoU and foreground IoU (mean ± sd over seeds), and compare.png (the same val images
 * under each config's best model).
 */
import * as path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import type { RunContext } from '../util/context.js';
import { DataLoader } from '../data/loader.js';
import { encodeImage, readLabel, writeSvgAsPng, type RawImage } from '../data/image_io.js';
import { colorize } from '../data/palette.js';
import { readMetrics } from './metrics_log.js';
import { loadModel } from './load_model.js';
import { displayPalette, resizeLabelRegion } from './vis.js';
import { inferOptions, inferProbabilities } from './infer.js';
import type { ConfigSummary, ExperimentOptions, RunSummary } from './experiment.js';

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : (100 * v).toFixed(2));

export function renderMarkdown(configs: ConfigSummary[], runs: RunSummary[], classNames: readonly string[] | null, opts: ExperimentOptions): string {
  const C = runs[0]?.iou.length ?? 0;
  const cls = Array.from({ length: C }, (_, c) => classNames?.[c] ?? `class ${c}`);
  const lines = [
    `Seeds ${opts.seeds.join(', ')}${opts.overrides.length ? `; overrides: \`${opts.overrides.join(' ')}\`` : ''}. Each run is evaluated on the val list after every snapshot; the numbers are those of its best evaluation (by TRAIN.BEST_METRIC). mIoU is in %, mean ± sample standard deviation over the seeds.`,
    '',
    `| config | mIoU (mean ± sd) | ${configs.some((c) => c.foregroundIou) ? 'foreground IoU (mean ± sd) | ' : ''}${cls.map((c) => `IoU ${c}`).join(' | ')} | steps | wall time per run |`,
    `|---|---|${configs.some((c) => c.foregroundIou) ? '---|' : ''}${cls.map(() => '---').join('|')}|---|---|`,
    ...configs.map(
      (c) =>
        `| ${c.name} | ${pct(c.miou.mean)} ± ${pct(c.miou.sd)} | ${c.foregroundIou ? `${pct(c.foregroundIou.mean)} ± ${pct(c.foregroundIou.sd)} | ` : configs.some((x) => x.foregroundIou) ? '– | ' : ''}${c.iouMean.map(pct).join(' | ')} | ${c.steps} | ${(c.secondsMean / 60).toFixed(1)} min |`,
    ),
    '',
    '| run | seed | best epoch | mIoU | ' + cls.map((c) => `IoU ${c}`).join(' | ') + ' | acc | wall time | backend |',
    '|---|---|---|---|' + cls.map(() => '---').join('|') + '|---|---|---|',
    ...runs.map((r) => `| ${r.name} | ${r.seed} | ${r.bestEpoch} | ${pct(r.miou)} | ${r.iou.map(pct).join(' | ')} | ${pct(r.acc)} | ${(r.seconds / 60).toFixed(1)} min | ${r.backend ?? '?'} |`),
    '',
  ];
  return lines.join('\n');
}

export async function curvesSvg(runs: RunSummary[]): Promise<string> {
  const rows: Array<{ config: string; seed: number; epoch: number; metric: string; value: number }> = [];
  for (const r of runs) {
    for (const e of readMetrics(r.dir)) {
      if (e.type !== 'eval') continue;
      rows.push({ config: r.name, seed: r.seed, epoch: e.epoch, metric: 'val mIoU', value: e.miou });
      if (e.iou.length === 2) rows.push({ config: r.name, seed: r.seed, epoch: e.epoch, metric: 'val foreground IoU', value: e.iou[1] ?? 0 });
    }
  }
  const metrics = [...new Set(rows.map((r) => r.metric))];
  const panel = (metric: string) => ({
    title: `${metric} (mean over seeds, band = ±1 sd)`,
    width: 460,
    height: 220,
    data: { values: rows.filter((r) => r.metric === metric) },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } },
      color: { field: 'config', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 400 } },
    },
    layer: [
      { mark: { type: 'errorband', extent: 'stdev', opacity: 0.2 }, encoding: { y: { field: 'value', type: 'quantitative', title: metric } } },
      { mark: { type: 'line', point: true }, encoding: { y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: metric } } },
    ],
  });
  const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', hconcat: metrics.map(panel), config: { font: 'DejaVu Sans, sans-serif' } } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** compare.png: rows of val images; columns input | truth | each config's prediction (first seed's best model). */
export async function writeCompare(file: string, names: string[], seed: number, out: string, resolved: Map<string, SegConfig>, opts: ExperimentOptions, ctx: RunContext): Promise<void> {
  const cfg0 = resolved.get(names[0] as string) as SegConfig;
  const columns: Array<{ title: string; images: RawImage[] }> = [{ title: 'input', images: [] }, { title: 'ground truth', images: [] }];
  const numClasses = cfg0.DATASET.NUM_CLASSES;
  const palette = displayPalette(numClasses);
  for (const name of names) {
    const cfg = resolved.get(name) as SegConfig;
    const model = loadModel(cfg, path.join(out, name, `seed${seed}`, 'best_model'));
    const loader = new DataLoader(cfg, { workers: 0, signal: ctx.signal, cwd: opts.cwd ?? process.cwd() });
    const col: RawImage[] = [];
    try {
      for await (const batch of loader.evalBatches('val', { keepOriginal: name === names[0], limit: opts.compareImages })) {
        const { n, height: h, width: w, channels: c } = batch;
        const predT = tf.tidy(() => tf.argMax(inferProbabilities(model, tf.tensor4d(batch.images, [n, h, w, c]), inferOptions(cfg)), 3));
        const preds = predT.dataSync();
        predT.dispose();
        for (let i = 0; i < n; i++) {
          const info = batch.samples[i];
          if (!info) continue;
          const pred = resizeLabelRegion(preds.subarray(i * h * w, (i + 1) * h * w), w, info.validWidth, info.validHeight, info.originalWidth, info.originalHeight);
          col.push(colorize(pred, info.originalWidth, info.originalHeight, palette));
          if (name === names[0]) {
            if (info.original) (columns[0] as { images: RawImage[] }).images.push(info.original);
            if (info.entry.labelPath) {
              const lab = await readLabel(info.entry.labelPath, { listFile: info.entry.listFile, line: info.entry.line });
              (columns[1] as { images: RawImage[] }).images.push(colorize(lab.data, lab.width, lab.height, palette));
            }
          }
        }
      }
    } finally {
      await loader.close();
      model.dispose();
    }
    columns.push({ title: name, images: col });
  }
  // Compose an SVG: a header row of titles, then one row per image; rasterised by sharp.
  const cell = 160;
  const gap = 6;
  const header = 40;
  const rowsN = Math.max(...columns.map((c) => c.images.length));
  const width = columns.length * (cell + gap) + gap;
  const height = header + rowsN * (cell + gap) + gap;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>`];
  for (const [ci, col] of columns.entries()) {
    const x = gap + ci * (cell + gap);
    // DejaVu Sans averages ~0.6 em per character: shrink long run names to fit their column
    const fontSize = Math.max(7, Math.min(13, Math.floor((cell + gap - 4) / (0.6 * Math.max(1, col.title.length)))));
    parts.push(`<text x="${x + cell / 2}" y="${header - 14}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" text-anchor="middle">${escapeXml(col.title)}</text>`);
    for (const [ri, img] of col.images.entries()) {
      const png = (await encodeImage(img, 'png')).toString('base64');
      parts.push(`<image x="${x}" y="${header + ri * (cell + gap)}" width="${cell}" height="${cell}" preserveAspectRatio="xMidYMid meet" style="image-rendering:pixelated" xlink:href="data:image/png;base64,${png}"/>`);
    }
  }
  parts.push('</svg>');
  await writeSvgAsPng(file, parts.join(''));
}
