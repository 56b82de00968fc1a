/**
 * What every loss shares: option defaults, the checks of logits and labels (shapes, dtypes,
 * label range), and the labels read once to JavaScript (the Lovász losses sort on the CPU; the
 * others build their masks and weights from the same array).
 */
import * as tf from '@tensorflow/tfjs-core';
import { dataError, usageError } from '../util/errors.js';
import type { LossOptions, ResolvedLossOptions } from './types.js';
import { peek, scratch } from './workspace.js';
import type { Head } from './names.js';

/** The defaults of LossOptions. */
export const DEFAULT_LOSS_OPTIONS: Readonly<ResolvedLossOptions> = Object.freeze({
  ignoreIndex: 255,
  perImage: false,
  classes: 'present',
  classWeights: null,
});


/** Labels checked and read to JavaScript, with the counts the losses need. */
export interface PreparedLabels {
  /** The labels tensor. */
  tensor: tf.Tensor3D;
  /** Label values in NHW order: scratch memory (workspace.ts), valid during this loss call only. */
  data: Int32Array;
  N: number;
  H: number;
  W: number;
  /** Channels of the logits (1 for one-channel losses). */
  C: number;
  /** Number of classes the labels may take: 2 for one-channel losses, else C. */
  K: number;
  ignoreIndex: number;
  /** Non-ignored pixels in the batch. */
  validCount: number;
  /** Non-ignored pixels of each image. */
  validPerImage: Int32Array;
  /** Non-ignored pixels of each class over the batch (length K). */
  classCounts: Float64Array;
}

/** Fill in the defaults and check the option values. */
export function resolveLossOptions(options: LossOptions | undefined): ResolvedLossOptions {
  const o = { ...DEFAULT_LOSS_OPTIONS, ...stripUndefined(options ?? {}) };
  if (!Number.isInteger(o.ignoreIndex)) {
    throw usageError(`loss option ignoreIndex must be an integer, got ${String(o.ignoreIndex)}`, { hint: 'use 255 (DATASET.IGNORE_INDEX), or another value that is not a class index' });
  }
  if (o.classes !== 'present' && o.classes !== 'all') {
    throw usageError(`loss option classes must be 'present' or 'all', got ${JSON.stringify(o.classes)}`, { hint: "use 'present' (default) or 'all' (SOLVER.LOVASZ.CLASSES)" });
  }
  const w = o.classWeights;
  if (w !== null && w !== 'dynamic' && !(Array.isArray(w) && w.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0))) {
    throw usageError(`loss option classWeights must be null, 'dynamic' or a list of non-negative numbers, got ${JSON.stringify(w)}`, {
      hint: 'SOLVER.CROSS_ENTROPY_WEIGHT: None, dynamic, or one weight per class',
    });
  }
  return { ignoreIndex: o.ignoreIndex, perImage: Boolean(o.perImage), classes: o.classes, classWeights: w };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const showShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

const BINARY_HINT =
  'binary tasks have two set-ups: a 1-channel head (logits [N, H, W, 1]) with bce_loss, dice_loss or lovasz_hinge_loss, ' +
  'or a 2-channel head (logits [N, H, W, 2]) with softmax_loss or lovasz_softmax_loss; seg picks the head from SOLVER.LOSS';

/**
 * Check logits and labels for loss `name` and read the labels: logits float32 `[N, H, W, C]` with
 * C = 1 for one-channel losses and C ≥ 2 otherwise, labels int32 `[N, H, W]` whose values are
 * `ignoreIndex` or a class index (0/1 for one-channel losses). Throws a SegError otherwise.
 */
export function prepareLabels(name: string, head: Head, logits: tf.Tensor, labels: tf.Tensor, ignoreIndex: number): PreparedLabels {
  if (logits.rank !== 4) {
    throw usageError(`${name}: logits must be a 4-D NHWC tensor [N, H, W, C], got shape ${showShape(logits.shape)}`, {
      hint: 'pass the model output before any reshape: float32 [batch, height, width, channels]',
    });
  }
  if (logits.dtype !== 'float32') {
    throw usageError(`${name}: logits must be float32, got ${logits.dtype}`, { hint: 'cast with tf.cast(logits, "float32")' });
  }
  const [N, H, W, C] = logits.shape as [number, number, number, number];
  if (labels.dtype !== 'int32') {
    throw usageError(`${name}: labels must be an int32 tensor of class indices, got ${labels.dtype}`, { hint: 'cast with tf.cast(labels, "int32")' });
  }
  if (labels.rank !== 3 || labels.shape[0] !== N || labels.shape[1] !== H || labels.shape[2] !== W) {
    const nchw = labels.rank === 3 && labels.shape[0] === N && logits.shape[2] === labels.shape[1] && logits.shape[3] === labels.shape[2];
    throw usageError(
      `${name}: labels of shape ${showShape(labels.shape)} do not match logits of shape ${showShape(logits.shape)}; expected labels [${N}, ${H}, ${W}]` +
        (nchw ? ' (the logits look channels-first, NCHW)' : ''),
      {
        hint: nchw
          ? 'seg works in NHWC: transpose NCHW logits with tf.transpose(logits, [0, 2, 3, 1])'
          : 'labels are [N, H, W] class indices at the logits\' resolution (NHWC logits [N, H, W, C])',
      },
    );
  }
  if (head === 'one-channel' && C !== 1) {
    throw usageError(`${name} takes one-channel logits [N, H, W, 1] (sigmoid / hinge on one logit map), got ${C} channels: shape ${showShape(logits.shape)}`, {
      hint: BINARY_HINT,
    });
  }
  if (head === 'multi-channel' && C < 2) {
    throw usageError(`${name} takes one logit map per class (C ≥ 2, softmax over channels), got ${C} channel: shape ${showShape(logits.shape)}`, {
      hint: BINARY_HINT,
    });
  }
  if (C > 65535) {
    throw usageError(`${name}: ${C} channels; seg's losses take at most 65535 classes`, { hint: 'check that the logits are NHWC [N, H, W, classes]' });
  }
  const K = head === 'one-channel' ? 2 : C;
  const data = scratch.i32('labels', N * H * W);
  data.set(peek(labels));
  const classCounts = new Float64Array(K);
  const validPerImage = new Int32Array(N);
  const perImage = H * W;
  let validCount = 0;
  for (let n = 0, j = 0; n < N; n++) {
    let v = 0;
    for (const end = j + perImage; j < end; j++) {
      const lab = data[j] as number;
      if (lab === ignoreIndex) continue;
      if (lab < 0 || lab >= K) throw badLabel(name, head, lab, j, H, W, K, ignoreIndex);
      classCounts[lab] = (classCounts[lab] as number) + 1;
      v++;
    }
    validPerImage[n] = v;
    validCount += v;
  }
  return { tensor: labels as tf.Tensor3D, data, N, H, W, C, K, ignoreIndex, validCount, validPerImage, classCounts };
}

function badLabel(name: string, head: Head, value: number, j: number, H: number, W: number, K: number, ignoreIndex: number) {
  const n = Math.floor(j / (H * W));
  const y = Math.floor((j % (H * W)) / W);
  const x = j % W;
  const allowed = head === 'one-channel' ? '0 or 1' : `in [0, ${K - 1}]`;
  return dataError(`${name}: label ${value} at image ${n}, row ${y}, column ${x} is neither a class index (${allowed}) nor the ignore index ${ignoreIndex}`, {
    hint:
      head === 'one-channel'
        ? 'one-channel losses are binary: labels must be 0 (background), 1 (foreground) or DATASET.IGNORE_INDEX; `seg check` lists bad label files'
        : 'labels must be < DATASET.NUM_CLASSES or equal DATASET.IGNORE_INDEX; `seg check` lists bad label files',
  });
}

/**
 * A scalar of `input` with a hand-written gradient, a typed wrapper of tf.customGrad. `f` gets the
 * input and tfjs's `save` (tensors to keep for the backward pass; it keeps nothing when no
 * gradient is being recorded) and returns the value and `gradFunc`, which maps d(result) (a
 * scalar) and the saved tensors to d(result)/d(input).
 */
export function customScalar(
  input: tf.Tensor,
  f: (x: tf.Tensor, save: (tensors: tf.Tensor[]) => void) => { value: tf.Scalar; gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => tf.Tensor },
): tf.Scalar {
  const op = tf.customGrad<tf.Scalar>((...args) => f(args[0] as tf.Tensor, args[1] as (tensors: tf.Tensor[]) => void));
  return op(input);
}

/**
 * A scalar loss whose gradient is computed in the forward pass, when one is being recorded (inside
 * tf.grad, tf.valueAndGrad, tf.variableGrads, optimizer.minimize), and saved for the backward
 * pass, which only scales it by d(result). `compute(recording)` returns the value and, when
 * recording, `gradient()`: a tensor of the input's shape, built from data `compute` prepared (it
 * runs right after `compute`, inside the same forward pass).
 */
export function withPrecomputedGradient(
  input: tf.Tensor,
  compute: (recording: boolean) => { value: number; gradient?: () => tf.Tensor },
): tf.Scalar {
  const recording = tf.engine().isTapeOn();
  return customScalar(input, (x, save) => {
    const r = compute(recording);
    if (recording) save([r.gradient ? r.gradient() : tf.zerosLike(x)]);
    return { value: tf.scalar(r.value), gradFunc: (dy, saved) => scaledBy(saved[0] as tf.Tensor, dy) };
  });
}

/**
 * g · dy. When dy is exactly 1 (a loss of weight 1, or tf.grad of the loss itself) the product is
 * g's own values, so g is returned as a clone (its data shared, not copied: seg's wasm and torch
 * Identity kernels, and tfjs's cpu one) instead of a multiply over every logit (≈ 4 ms at
 * 2×512²×21 on seg-torch).
 */
function scaledBy(g: tf.Tensor, dy: tf.Scalar): tf.Tensor {
  return dy.dataSync()[0] === 1 ? tf.clone(g) : tf.mul(g, dy);
}

/**
 * A loss of exactly 0 whose gradient w.r.t. the logits is exactly 0, still connected to the
 * logits (so that tf.grad works): what a batch without valid pixels gives.
 */
export function zeroLoss(logits: tf.Tensor): tf.Scalar {
  return withPrecomputedGradient(logits, () => ({ value: 0 }));
}
