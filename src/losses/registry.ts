/**
 * The loss registry: one line per loss. The order is pdseg's summation order. The config schema
 * derives `SOLVER.LOSS` (the valid names) and `SOLVER.LOSS_WEIGHT.<NAME>` from these keys.
 */
import type { LossEntry } from './types.js';
import { softmaxCore, softmaxLoss } from './softmax_loss.js';
import { diceCore, diceLoss } from './dice_loss.js';
import { bceCore, bceLoss } from './bce_loss.js';
import { lovaszHingeCore, lovaszHingeLoss } from './lovasz_hinge_loss.js';
import { lovaszSoftmaxCore, lovaszSoftmaxLoss } from './lovasz_softmax_loss.js';

export const LOSSES = Object.freeze({
  softmax_loss: { fn: softmaxLoss, core: softmaxCore, head: 'multi-channel', summary: 'softmax cross-entropy over NUM_CLASSES logits' },
  dice_loss: { fn: diceLoss, core: diceCore, head: 'one-channel', summary: 'per-image soft dice on sigmoid(logit), binary' },
  bce_loss: { fn: bceLoss, core: bceCore, head: 'one-channel', summary: 'sigmoid cross-entropy on one logit map, binary' },
  lovasz_hinge_loss: { fn: lovaszHingeLoss, core: lovaszHingeCore, head: 'one-channel', summary: 'Lovász hinge on raw logits (IoU surrogate), binary' },
  lovasz_softmax_loss: { fn: lovaszSoftmaxLoss, core: lovaszSoftmaxCore, head: 'multi-channel', summary: 'Lovász-Softmax on softmax probabilities (mIoU surrogate)' },
} as const satisfies Record<string, LossEntry>);

export type LossName = keyof typeof LOSSES;
export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/** `lovasz_hinge_loss` → `LOVASZ_HINGE_LOSS`, the key under SOLVER.LOSS_WEIGHT. */
export const lossWeightKey = (name: string): string => name.toUpperCase();

export const isLossName = (name: string): name is LossName => Object.hasOwn(LOSSES, name);
