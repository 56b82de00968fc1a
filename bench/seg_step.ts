/**
 * seg's own training step for the benchmark: buildModel() (src/models/build.ts) with the default
 * DeepLabv3+/MobileNetV2 configuration (x1.0, OS16, separable ASPP 6/12/18 with image pooling,
 * concat decoder), buildLoss() (softmax cross-entropy by default), seg's Adam (src/train/optimizer.ts,
 * lr 1e-3, weight decay 0 like the PyTorch peer) and trainStep() (src/train/step.ts), i.e. exactly
 * what `seg train` runs per batch, micro-batches (SOLVER.ACCUMULATE_STEPS) included.
 */
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from '../src/config/resolve.js';
import { buildLoss } from '../src/losses/build.js';
import { buildModel } from '../src/models/build.js';
import { Optimizer } from '../src/train/optimizer.js';
import { trainStep } from '../src/train/step.js';

export interface SegBench {
  /** One training step on the fixed batch; returns the loss. */
  step(): number;
  params: number;
  description: string;
}

export interface SegBenchOptions {
  classes: number;
  size: number;
  batch: number;
  /** Micro-batches per step (gradients summed, one update). */
  micro: number;
  /** SOLVER.LOSS, e.g. "['softmax_loss']" or "['lovasz_softmax_loss']". */
  loss?: string;
}

/** Build the model, loss, optimiser and a deterministic random batch. */
export function segBench(o: SegBenchOptions): SegBench {
  const crop = `(${o.size}, ${o.size})`;
  const { config } = resolveConfig({
    overrides: [
      'DATASET.NUM_CLASSES', String(o.classes),
      'TRAIN_CROP_SIZE', crop,
      'EVAL_CROP_SIZE', crop,
      'MODEL.DEEPLAB.BACKBONE', 'mobilenetv2',
      ...(o.loss ? ['SOLVER.LOSS', o.loss] : []),
    ],
  });
  const model = buildModel(config, { seed: 1 });
  const lossFn = buildLoss(config);
  const trainable = model.weights.filter((w) => w.trainable);
  const optimizer = new Optimizer({ name: 'adam', momentum: 0.9, momentum2: 0.999, weightDecay: 0 }, trainable.map((w) => ({ name: w.name, variable: w.variable })));
  const names = new Map<tf.Variable, string>(model.weights.map((w) => [w.variable, w.name]));
  // a fixed batch: uniform(−1, 1) images, uniformly random labels (like the PyTorch peer)
  let state = 12345;
  const rnd = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const px = o.batch * o.size * o.size;
  const images = Float32Array.from({ length: px * 3 }, () => rnd() * 2 - 1);
  const labels = Int32Array.from({ length: px }, () => Math.min(o.classes - 1, Math.floor(rnd() * o.classes)));
  let seed = 0;
  return {
    step: () =>
      trainStep(model, optimizer, lossFn, names, { images, labels, n: o.batch, height: o.size, width: o.size, channels: 3 }, {
        lr: 1e-3,
        step: seed,
        seed: seed++,
        accumulate: o.micro,
        ignoreIndex: config.DATASET.IGNORE_INDEX,
      }).loss,
    params: model.parameterCount('trainable'),
    description: model.describe(),
  };
}
