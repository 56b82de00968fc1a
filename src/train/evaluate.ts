/**
 * Evaluation (pdseg eval.py, reference §4): run the model on a list at EVAL_CROP_SIZE (or, with
 * TEST.MODE whole or slide, each image at its own size), count one confusion matrix (IGNORE_INDEX
 * pixels, padding included, excluded) and derive every metric from it. TEST.SCALES, TEST.FLIP and
 * --aug_eval average class probabilities (infer.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import type { RunContext } from '../util/context.js';
import type { SegModel } from '../models/build.js';
import type { DataLoader } from '../data/loader.js';
import { ConfusionMatrix, type SegMetrics } from '../metrics/confusion.js';
import { predict, type LossFunction } from './step.js';
import { inferOptions, inferProbabilities } from './infer.js';
import { runtimeError } from '../util/errors.js';
import { inferenceScope } from '../ops/index.js';

export interface EvaluateOptions {
  split: 'val' | 'test';
  /** The run's loader (worker threads and caches are shared with training). */
  loader: DataLoader;
  ctx: RunContext;
  /** Flip test-time augmentation (--aug_eval), besides TEST.FLIP. */
  flip?: boolean;
  /** When given, the mean loss over the batches is reported too (pdseg's plain evaluation only). */
  lossFn?: LossFunction;
}

export interface EvaluateResult {
  metrics: SegMetrics;
  loss: number | undefined;
  images: number;
  seconds: number;
}

export async function evaluate(model: SegModel, cfg: SegConfig, opts: EvaluateOptions): Promise<EvaluateResult> {
  return inferenceScope(() => evaluateBatches(model, cfg, opts));
}

async function evaluateBatches(model: SegModel, cfg: SegConfig, opts: EvaluateOptions): Promise<EvaluateResult> {
  const started = Date.now();
  const classes = model.headChannels === 1 ? 2 : model.headChannels;
  const cm = new ConfusionMatrix(classes);
  let images = 0;
  let lossSum = 0;
  let lossBatches = 0;
  const total = opts.split === 'val' ? cfg.DATASET.VAL_TOTAL_IMAGES : cfg.DATASET.TEST_TOTAL_IMAGES;
  const infer = inferOptions(cfg, opts.flip);
  // pdseg's evaluation (padded crops, one forward pass) on the logits, with the loss when asked for.
  const plain = infer.mode === 'pad' && !infer.flip && infer.scales.every((s) => s === 1);
  const bar = opts.ctx.progress(`eval ${opts.split}`, total);
  try {
    for await (const batch of opts.loader.evalBatches(opts.split)) {
      const { n, height: h, width: w, channels: c } = batch;
      const out = tf.tidy(() => {
        const x = tf.tensor4d(batch.images, [n, h, w, c]);
        if (!plain) {
          const p = inferProbabilities(model, x, infer);
          return { pred: tf.argMax(p, 3) as tf.Tensor3D, loss: undefined, sum: tf.sum(p) };
        }
        const logits = model.apply(x, { training: false });
        const lossT = opts.lossFn ? opts.lossFn(logits, tf.tensor3d(batch.labels, [n, h, w], 'int32')).total : undefined;
        return { pred: predict(logits), loss: lossT, sum: tf.sum(logits) };
      });
      const finite = Number.isFinite(out.sum.dataSync()[0]);
      out.sum.dispose();
      if (!finite) {
        tf.dispose([out.pred, out.loss]);
        throw runtimeError(`the model's logits are not finite (NaN or ±Inf) on ${batch.entries[0]?.imagePath ?? 'a batch'}${n > 1 ? ` or another of its batch of ${n}` : ''}`, {
          hint: 'the weights overflow on this input: evaluate an earlier checkpoint, or check the image and MEAN/STD',
        });
      }
      const preds = out.pred.dataSync();
      cm.update(batch.labels, preds, cfg.DATASET.IGNORE_INDEX);
      if (out.loss) {
        const v = out.loss.dataSync()[0] as number;
        if (Number.isFinite(v)) {
          lossSum += v;
          lossBatches++;
        }
      }
      out.pred.dispose();
      out.loss?.dispose();
      images += n;
      bar.update(images);
      if (opts.ctx.signal.aborted) break;
    }
  } finally {
    bar.stop();
  }
  return { metrics: cm.metrics(), loss: lossBatches > 0 ? lossSum / lossBatches : undefined, images, seconds: (Date.now() - started) / 1000 };
}
