/**
 * `seg experiment`: train several configs with the same seeds, data, schedule and budget, evaluate
 * each on the val list, and write one comparison folder:
 *
 *   <out>/<run>/seed<k>/        each run's TRAIN.MODEL_SAVE_DIR (checkpoints, metrics.jsonl, plot.png)
 *   <out>/results.md, .json     best mIoU, per-class IoU, foreground IoU, wall time and steps per run,
 *                               and mean ± standard deviation over the seeds per config
 *   <out>/curves.png            validation mIoU and foreground IoU per epoch (mean over seeds, ±1 sd band)
 *   <out>/compare.png           the same val images: input | truth | each config's prediction
 *
 * A finished run (done.json) is not trained again; an interrupted one resumes from interrupted/
 * (Ctrl-C) or from its latest snapshot (a killed process), so re-running the command continues
 * where it stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SegConfig } from '../config/schema.js';
import { resolveConfig } from '../config/resolve.js';
import type { RunContext } from '../util/context.js';
import { SegError, usageError } from '../util/errors.js';
import { makeDirs, writeFileAtomicSync } from '../util/atomic.js';
import { checkpointExists } from '../checkpoint/checkpoint.js';
import { writeSvgAsPng } from '../data/image_io.js';
import { train } from './trainer.js';
import { readMetrics, type EvalRecord } from './metrics_log.js';
import { finishRun } from './report.js';
import { curvesSvg, renderMarkdown, writeCompare } from './experiment_report.js';
import { activeBackend } from '../backend/index.js';

export interface ExperimentOptions {
  configs: string[];
  seeds: number[];
  out: string;
  overrides: string[];
  workers: number;
  /** Validation images in compare.png. */
  compareImages: number;
  interactive: boolean;
  cwd?: string;
}

export interface RunSummary {
  config: string;
  name: string;
  seed: number;
  dir: string;
  bestMetric: string;
  best: number;
  bestEpoch: number;
  /** The evaluation at the best epoch. */
  miou: number;
  iou: Array<number | null>;
  acc: number;
  steps: number;
  seconds: number;
  /** The tfjs backend the run trained on (done.json; absent for runs finished before it was recorded). */
  backend?: string;
}

export interface ConfigSummary {
  name: string;
  config: string;
  seeds: number[];
  miou: { mean: number; sd: number; values: number[] };
  foregroundIou: { mean: number; sd: number; values: number[] } | null;
  iouMean: Array<number | null>;
  secondsMean: number;
  steps: number;
}

export interface ExperimentResult {
  out: string;
  runs: RunSummary[];
  configs: ConfigSummary[];
  files: { markdown: string; json: string; curves: string; compare: string };
}

const runName = (cfgFile: string): string => path.basename(cfgFile).replace(/\.ya?ml$/i, '');

export const meanSd = (xs: readonly number[]): { mean: number; sd: number } => {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};

/** The latest numbered snapshot of a run folder, for resuming a run that was killed. */
function latestSnapshot(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const epochs = fs
    .readdirSync(dir)
    .filter((d) => /^\d+$/.test(d) && checkpointExists(path.join(dir, d)))
    .map(Number)
    .sort((a, b) => b - a);
  return epochs[0] === undefined ? undefined : path.join(dir, String(epochs[0]));
}

function summarise(name: string, cfgFile: string, seed: number, dir: string, cfg: SegConfig, seconds: number, backend?: string): RunSummary {
  const recs = readMetrics(dir);
  const evals = recs.filter((r): r is EvalRecord => r.type === 'eval');
  if (evals.length === 0) throw new SegError('runtime', `run ${dir} has no evaluation in its metrics.jsonl`, { hint: 'delete the run folder and run the experiment again' });
  const metric = cfg.TRAIN.BEST_METRIC;
  const value = (e: EvalRecord): number => (metric === 'miou' ? e.miou : metric === 'acc' ? e.acc : metric === 'kappa' ? e.kappa : (e.iou[Number(metric.slice(4))] ?? 0));
  let best = evals[0] as EvalRecord;
  for (const e of evals) if (value(e) > value(best)) best = e;
  const lastTrain = [...recs].reverse().find((r) => r.type === 'train');
  return { config: cfgFile, name, seed, dir, bestMetric: metric, best: value(best), bestEpoch: best.epoch, miou: best.miou, iou: best.iou, acc: best.acc, steps: lastTrain?.step ?? 0, seconds, ...(backend ? { backend } : {}) };
}

export async function runExperiment(opts: ExperimentOptions, ctx: RunContext): Promise<ExperimentResult> {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.configs.length < 1) throw usageError('give at least one --cfg');
  const names = opts.configs.map(runName);
  if (new Set(names).size !== names.length) throw usageError(`two configs share a name (${names.join(', ')})`, { hint: 'copy one under another file name' });
  const out = path.resolve(cwd, opts.out);
  makeDirs(out);
  const runs: RunSummary[] = [];
  const resolved = new Map<string, SegConfig>();

  for (const [i, cfgFile] of opts.configs.entries()) {
    const name = names[i] as string;
    for (const seed of opts.seeds) {
      const dir = path.join(out, name, `seed${seed}`);
      const doneFile = path.join(dir, 'done.json');
      const base = resolveConfig({ cfgFile, overrides: opts.overrides, cwd, flagValues: { SEED: seed, 'TRAIN.MODEL_SAVE_DIR': dir, 'TEST.TEST_MODEL': path.join(dir, 'best_model') } }).config;
      resolved.set(name, base);
      if (fs.existsSync(doneFile)) {
        const done = JSON.parse(fs.readFileSync(doneFile, 'utf8')) as { seconds: number; backend?: string };
        ctx.log.info(`[experiment] ${name} seed ${seed}: finished earlier, not trained again`);
        runs.push(summarise(name, cfgFile, seed, dir, base, done.seconds, done.backend));
        continue;
      }
      const resumeFrom = checkpointExists(path.join(dir, 'interrupted')) ? path.join(dir, 'interrupted') : latestSnapshot(dir);
      const cfg: SegConfig = resumeFrom ? { ...base, TRAIN: { ...base.TRAIN, RESUME_MODEL_DIR: resumeFrom } } : base;
      ctx.log.info(`[experiment] ${name} seed ${seed}: ${resumeFrom ? `resuming from ${path.relative(cwd, resumeFrom)}` : 'training'} → ${path.relative(cwd, dir)}`);
      const previous = fs.existsSync(path.join(dir, 'seconds.json')) ? (JSON.parse(fs.readFileSync(path.join(dir, 'seconds.json'), 'utf8')) as { seconds: number }).seconds : 0;
      const started = Date.now();
      try {
        // A run killed before its first snapshot has nothing to resume: start it again, the remains moved aside.
        const result = await train(cfg, { doEval: true, logSteps: 20, debug: false, workers: opts.workers, interactive: opts.interactive, cwd, overwrite: !resumeFrom }, ctx);
        await finishRun(result, cfg, ctx, { visualise: false, cwd });
      } finally {
        makeDirs(dir);
        fs.writeFileSync(path.join(dir, 'seconds.json'), JSON.stringify({ seconds: previous + (Date.now() - started) / 1000 }));
      }
      const seconds = previous + (Date.now() - started) / 1000;
      const backend = activeBackend()?.name;
      fs.writeFileSync(doneFile, JSON.stringify({ seconds, finished: new Date().toISOString(), ...(backend ? { backend } : {}) }));
      runs.push(summarise(name, cfgFile, seed, dir, base, seconds, backend));
    }
  }

  const configs: ConfigSummary[] = names.map((name, i) => {
    const rs = runs.filter((r) => r.name === name);
    const mi = rs.map((r) => r.miou);
    const numClasses = rs[0]?.iou.length ?? 0;
    const fg = numClasses === 2 ? rs.map((r) => r.iou[1] ?? 0) : null;
    const iouMean = Array.from({ length: numClasses }, (_, c) => {
      const v = rs.map((r) => r.iou[c]).filter((x): x is number => x !== null && x !== undefined);
      return v.length ? meanSd(v).mean : null;
    });
    return {
      name,
      config: opts.configs[i] as string,
      seeds: rs.map((r) => r.seed),
      miou: { ...meanSd(mi), values: mi },
      foregroundIou: fg ? { ...meanSd(fg), values: fg } : null,
      iouMean,
      secondsMean: meanSd(rs.map((r) => r.seconds)).mean,
      steps: rs[0]?.steps ?? 0,
    };
  });

  const files = {
    markdown: path.join(out, 'results.md'),
    json: path.join(out, 'results.json'),
    curves: path.join(out, 'curves.png'),
    compare: path.join(out, 'compare.png'),
  };
  const classNames = resolved.get(names[0] as string)?.DATASET.CLASS_NAMES ?? null;
  writeFileAtomicSync(files.json, `${JSON.stringify({ seeds: opts.seeds, overrides: opts.overrides, configs, runs }, null, 2)}\n`);
  writeFileAtomicSync(files.markdown, renderMarkdown(configs, runs, classNames, opts));
  await writeSvgAsPng(files.curves, await curvesSvg(runs));
  await writeCompare(files.compare, names, opts.seeds[0] as number, out, resolved, opts, ctx);
  return { out, runs, configs, files };
}
