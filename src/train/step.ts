/**
 * One training step: forward, loss, backward (optionally over micro-batches, SOLVER.ACCUMULATE_STEPS),
 * and the optimiser update. Everything tfjs allocates is disposed before it returns.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegModel } from '../models/build.js';
import type { Optimizer } from './optimizer.js';
import type { LossTotals } from '../losses/build.js';
import { ConfusionMatrix } from '../metrics/confusion.js';
import type { Batch } from '../data/loader.js';

/** The part of a loader Batch a step reads. */
export type StepBatch = Pick<Batch, 'images' | 'labels' | 'n' | 'height' | 'width' | 'channels'>;

export interface StepResult {
  loss: number;
  terms: Record<string, number>;
}

export interface StepOptions {
  lr: number;
  /** Seed for the step's dropout masks (derived from the run seed and the global step). */
  seed: number;
  /** Global step (0-based): counts the batch-norm moving-statistics updates. */
  step: number;
  /** Split the batch into this many micro-batches and sum their gradients (memory). */
  accumulate: number;
  /** When given, the step's predictions are counted into it (train accuracy/mIoU for --debug). */
  confusion?: ConfusionMatrix;
  ignoreIndex: number;
}

export type LossFunction = (logits: tf.Tensor4D, labels: tf.Tensor3D) => LossTotals;

/** Predicted class per pixel: argmax, or logit > 0 (σ > 0.5) for a one-channel head. */
export function predict(logits: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const c = logits.shape[3];
    if (c === 1) return tf.cast(tf.greater(tf.squeeze(logits, [3]), 0), 'int32') as tf.Tensor3D;
    return tf.argMax(logits, 3) as tf.Tensor3D;
  });
}

export function trainStep(model: SegModel, optimizer: Optimizer, lossFn: LossFunction, names: ReadonlyMap<tf.Variable, string>, batch: StepBatch, opts: StepOptions): StepResult {
  const { n, height: h, width: w, channels: c } = batch;
  const k = Math.max(1, Math.min(opts.accumulate, n));
  if (n % k !== 0) throw new Error(`batch of ${n} does not split into ${k} micro-batches`);
  const per = n / k;
  const vars = model.trainableVariables();
  const sums = new Map<string, tf.Tensor>();
  let loss = 0;
  const terms: Record<string, number> = {};
  try {
    for (let i = 0; i < k; i++) {
      const px = per * h * w;
      const x = tf.tensor4d(batch.images.subarray(i * px * c, (i + 1) * px * c), [per, h, w, c]);
      const y = tf.tensor3d(batch.labels.subarray(i * px, (i + 1) * px), [per, h, w], 'int32');
      let kept: tf.Scalar[] = [];
      let termNames: string[] = [];
      let preds: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(x, { training: true, seed: opts.seed + i, updates: opts.step * k + i });
        const out = lossFn(logits, y);
        const entries = Object.entries(out.terms) as Array<[string, tf.Scalar]>;
        termNames = entries.map(([t]) => t);
        kept = entries.map(([, v]) => tf.keep(v));
        if (opts.confusion) preds = tf.keep(predict(logits));
        return out.total;
      }, vars);
      tf.dispose([x, y]);
      const values = [value, ...kept].map((t) => t.dataSync()[0] as number);
      tf.dispose([value, ...kept]);
      loss += (values[0] as number) / k;
      termNames.forEach((t, j) => (terms[t] = (terms[t] ?? 0) + (values[j + 1] as number) / k));
      if (preds && opts.confusion) {
        const labels = batch.labels.subarray(i * px, (i + 1) * px);
        opts.confusion.update(labels, preds.dataSync(), opts.ignoreIndex);
        preds.dispose();
      }
      for (const [vname, g] of Object.entries(grads)) {
        const prev = sums.get(vname);
        if (prev) {
          sums.set(vname, tf.tidy(() => tf.add(prev, g)));
          tf.dispose([prev, g]);
        } else sums.set(vname, g);
      }
    }
    if (!Number.isFinite(loss)) return { loss, terms };
    // variableGrads keys grads by the variables' own names; the optimiser keys by model weight names.
    const byName = new Map<string, tf.Tensor>();
    for (const v of vars) {
      const g = sums.get(v.name);
      const wname = names.get(v);
      if (!g || wname === undefined) continue;
      byName.set(wname, k > 1 ? tf.div(g, k) : g);
    }
    optimizer.apply(byName, opts.lr);
    if (k > 1) tf.dispose([...byName.values()]);
    return { loss, terms };
  } finally {
    tf.dispose([...sums.values()]);
  }
}
