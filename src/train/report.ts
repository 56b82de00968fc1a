/**
 * What `seg train` leaves beside the checkpoints when it finishes: plot.png (the curves of
 * metrics.jsonl) and, after an evaluated run, pictures of a few validation images predicted by
 * the best model (vis/).
 */
import * as path from 'node:path';
import type { SegConfig } from '../config/schema.js';
import type { RunContext } from '../util/context.js';
import { writeSvgAsPng } from '../data/image_io.js';
import { DataLoader } from '../data/loader.js';
import { readMetrics } from './metrics_log.js';
import { renderPlotSvg } from './plot.js';
import { loadModel } from './load_model.js';
import { visualise } from './vis.js';
import type { TrainResult } from './trainer.js';

export interface RunReport {
  runDir: string;
  finalDir: string;
  bestDir: string | undefined;
  metrics: string;
  plot: string;
  visDir: string | undefined;
  seed: number;
  steps: number;
  seconds: number;
  best: TrainResult['best'];
  val: { miou: number; acc: number; kappa: number; iou: Array<number | null> } | undefined;
}

/** Pictures written for a finished run. */
export const RUN_VIS_IMAGES = 8;

export async function finishRun(result: TrainResult, cfg: SegConfig, ctx: RunContext, opts: { visualise: boolean; cwd?: string }): Promise<RunReport> {
  const plot = path.join(result.runDir, 'plot.png');
  const svg = await renderPlotSvg([{ name: path.basename(result.runDir), records: readMetrics(result.runDir), classNames: cfg.DATASET.CLASS_NAMES }], { title: path.basename(result.runDir) });
  await writeSvgAsPng(plot, svg);
  let visDir: string | undefined;
  if (opts.visualise) {
    visDir = path.join(result.runDir, 'vis');
    const model = loadModel(cfg, result.bestDir ?? result.finalDir);
    const loader = new DataLoader(cfg, { workers: 0, signal: ctx.signal, cwd: opts.cwd ?? process.cwd() });
    try {
      await visualise(model, cfg, { visDir, loader, split: 'val', ctx, limit: RUN_VIS_IMAGES });
    } finally {
      await loader.close();
      model.dispose();
    }
  }
  const m = result.lastEval;
  return {
    runDir: result.runDir,
    finalDir: result.finalDir,
    bestDir: result.bestDir,
    metrics: path.join(result.runDir, 'metrics.jsonl'),
    plot,
    visDir,
    seed: result.seed,
    steps: result.steps,
    seconds: result.seconds,
    best: result.best,
    val: m ? { miou: m.miou, acc: m.acc, kappa: m.kappa, iou: m.iou } : undefined,
  };
}
