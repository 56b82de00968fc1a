/**
 * The loss registry: one line per loss, for each name of names.ts (its head kind and the config
 * keys `SOLVER.LOSS` and `SOLVER.LOSS_WEIGHT.<NAME>` come from there, without tfjs).
 */
import type { LossEntry } from './types.js';
import type { LossName } from './names.js';
import { softmaxCore, softmaxLoss } from './softmax_loss.js';
import { diceCore, diceLoss } from './dice_loss.js';
import { bceCore, bceLoss } from './bce_loss.js';
import { lovaszHingeCore, lovaszHingeLoss } from './lovasz_hinge_loss.js';
import { lovaszSoftmaxCore, lovaszSoftmaxLoss } from './lovasz_softmax_loss.js';

export const LOSSES = Object.freeze({
  softmax_loss: { fn: softmaxLoss, core: softmaxCore, summary: 'softmax cross-entropy over NUM_CLASSES logits' },
  dice_loss: { fn: diceLoss, core: diceCore, summary: 'per-image soft dice on sigmoid(logit), binary' },
  bce_loss: { fn: bceLoss, core: bceCore, summary: 'sigmoid cross-entropy on one logit map, binary' },
  lovasz_hinge_loss: { fn: lovaszHingeLoss, core: lovaszHingeCore, summary: 'Lovász hinge on raw logits (IoU surrogate), binary' },
  lovasz_softmax_loss: { fn: lovaszSoftmaxLoss, core: lovaszSoftmaxCore, summary: 'Lovász-Softmax on softmax probabilities (mIoU surrogate)' },
} as const satisfies Record<LossName, LossEntry>);

export { LOSS_HEADS, LOSS_NAMES, headKindOf, isLossName, lossWeightKey, type LossName } from './names.js';
