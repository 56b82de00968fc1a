/**
 * The loss names and the head each needs, without tfjs: what the config schema, its validation and
 * the model's head size need to know of the losses. The registry (registry.ts) gives each name its
 * functions, and TypeScript holds it to exactly these names. The order is pdseg's summation order.
 */

/** Which head a loss needs: one logit map (binary) or one map per class. */
export type Head = 'one-channel' | 'multi-channel';

export const LOSS_HEADS = Object.freeze({
  softmax_loss: 'multi-channel',
  dice_loss: 'one-channel',
  bce_loss: 'one-channel',
  lovasz_hinge_loss: 'one-channel',
  lovasz_softmax_loss: 'multi-channel',
} as const satisfies Record<string, Head>);

export type LossName = keyof typeof LOSS_HEADS;
export const LOSS_NAMES = Object.keys(LOSS_HEADS) as LossName[];

export const isLossName = (name: string): name is LossName => Object.hasOwn(LOSS_HEADS, name);

/** `lovasz_hinge_loss` → `LOVASZ_HINGE_LOSS`, the key under SOLVER.LOSS_WEIGHT. */
export const lossWeightKey = (name: string): string => name.toUpperCase();

/** The losses among `names` that need a one-channel head. */
export const oneChannelLosses = (names: Iterable<string>): LossName[] => [...names].filter((n): n is LossName => isLossName(n) && LOSS_HEADS[n] === 'one-channel');

/**
 * pdseg's rule: a one-channel loss (bce, dice, lovasz_hinge) makes the head one channel, predicted
 * as sigmoid(logit) > 0.5; otherwise the head has NUM_CLASSES channels.
 */
export const headKindOf = (names: Iterable<string>): Head => (oneChannelLosses(names).length > 0 ? 'one-channel' : 'multi-channel');
