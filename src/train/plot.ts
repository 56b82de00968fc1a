/**
 * Training curves as an SVG chart (vega-lite → vega → SVG; the CLI turns it into a PNG with
 * sharp through src/data/image_io.ts). One run: loss terms, learning rate, val mIoU and per-class
 * IoU. Several runs: the same panels overlaid, one colour per run, with a legend — the
 * Lovász-vs-softmax comparison.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { MetricRecord } from './metrics_log.js';

export interface PlotRun {
  name: string;
  records: readonly MetricRecord[];
  classNames?: readonly string[] | null;
}

interface Point {
  run: string;
  series: string;
  step: number;
  epoch: number;
  value: number;
}

export interface PlotOptions {
  title?: string;
  width?: number;
}

/** The rows of data each panel draws. Exported for tests. */
export function plotData(runs: readonly PlotRun[]): { loss: Point[]; lr: Point[]; miou: Point[]; iou: Point[] } {
  const multi = runs.length > 1;
  const loss: Point[] = [];
  const lr: Point[] = [];
  const miou: Point[] = [];
  const iou: Point[] = [];
  for (const run of runs) {
    const label = (s: string): string => (multi ? `${run.name}: ${s}` : s);
    for (const r of run.records) {
      if (r.type === 'train') {
        loss.push({ run: run.name, series: label('total'), step: r.step, epoch: r.epoch, value: r.loss });
        const terms = Object.entries(r.terms);
        if (terms.length > 1) for (const [name, v] of terms) loss.push({ run: run.name, series: label(name), step: r.step, epoch: r.epoch, value: v });
        lr.push({ run: run.name, series: run.name, step: r.step, epoch: r.epoch, value: r.lr });
      } else {
        miou.push({ run: run.name, series: run.name, step: r.step, epoch: r.epoch, value: r.miou });
        r.iou.forEach((v, c) => {
          if (v === null) return;
          const cls = run.classNames?.[c] ?? `class ${c}`;
          iou.push({ run: run.name, series: label(cls), step: r.step, epoch: r.epoch, value: v });
        });
      }
    }
  }
  return { loss, lr, miou, iou };
}

/** Render the chart as an SVG document. */
export async function renderPlotSvg(runs: readonly PlotRun[], opts: PlotOptions = {}): Promise<string> {
  const d = plotData(runs);
  const width = opts.width ?? 520;
  const line = (values: Point[], title: string, y: string, x: 'step' | 'epoch', points: boolean, yScale?: { domain?: [number, number]; type?: 'log' }) => ({
    title,
    width,
    height: 170,
    data: { values },
    mark: { type: 'line' as const, point: points, strokeWidth: 1.5 },
    encoding: {
      x: { field: x, type: 'quantitative' as const, title: x, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative' as const, title: y, ...(yScale ? { scale: { ...yScale, zero: false } } : {}) },
      color: { field: 'series', type: 'nominal' as const, title: null, legend: { orient: 'right' as const, labelLimit: 260 } },
    },
  });
  const panels = [];
  if (d.loss.length > 0) panels.push(line(d.loss, 'training loss (logged window means)', 'loss', 'step', false));
  if (d.lr.length > 0) panels.push(line(d.lr, 'learning rate', 'lr', 'step', false));
  if (d.miou.length > 0) panels.push(line(d.miou, 'validation mIoU', 'mIoU', 'epoch', true, { domain: [0, 1] }));
  if (d.iou.length > 0) panels.push(line(d.iou, 'validation IoU per class', 'IoU', 'epoch', true, { domain: [0, 1] }));
  if (panels.length === 0) panels.push({ ...line([], 'no metrics logged yet', 'value', 'step', false) });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    background: 'white',
    vconcat: panels,
    resolve: { scale: { color: 'independent' } },
    config: { font: 'DejaVu Sans, sans-serif', view: { stroke: '#ddd' } },
  } as unknown as TopLevelSpec;
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
