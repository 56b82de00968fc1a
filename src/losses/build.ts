/**
 * Assembling the training loss from the config (pdseg's model_builder, section 5 of the
 * reference): total = MULTI_LOSS_WEIGHT[0] · Σ LOSS_WEIGHT.<NAME> · loss over the active mix
 * (mix.ts), summed in the registry's fixed order (softmax, dice, bce, lovasz_hinge, lovasz_softmax).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LOSSES, type LossName } from './registry.js';
import { headKindOf } from './names.js';
import { activeLossStage, type LossConfig } from './mix.js';
import { prepareLabels, resolveLossOptions } from './common.js';
import type { ResolvedLossOptions } from './types.js';

export { activeLossStage, type ActiveLossStage, type LossConfig, type LossTerm } from './mix.js';

/** The loss options the config gives. */
export function lossOptionsFromConfig(config: LossConfig): ResolvedLossOptions {
  return resolveLossOptions({
    ignoreIndex: config.DATASET.IGNORE_INDEX,
    perImage: config.SOLVER.LOVASZ.PER_IMAGE,
    classes: config.SOLVER.LOVASZ.CLASSES,
    classWeights: config.SOLVER.CROSS_ENTROPY_WEIGHT,
  });
}

/** What a built loss returns: the weighted total and each (unweighted) term. */
export interface LossTotals {
  /** MULTI_LOSS_WEIGHT[0] · Σ weight·term: what the optimizer minimises. */
  total: tf.Scalar;
  /** Each active loss, unweighted, by name (for the log). */
  terms: Partial<Record<LossName, tf.Scalar>>;
}

/** A built loss: `(logits, labels) => {total, terms}`; the caller owns (and disposes) the result. */
export type BuiltLoss = (logits: tf.Tensor4D, labels: tf.Tensor3D) => LossTotals;

/**
 * Build the training loss from the config, for `epoch` (see activeLossStage). The returned function
 * checks logits and labels once, reads the labels once, runs every active loss inside tf.tidy and
 * returns the weighted total and the unweighted terms.
 */
export function buildLoss(config: LossConfig, epoch?: number): BuiltLoss {
  const active = activeLossStage(config, epoch);
  const options = lossOptionsFromConfig(config);
  const head = headKindOf(active.terms.map((t) => t.name));
  const label = active.terms.map((t) => t.name).join(' + ');
  return (logits, labels) => {
    const prepared = prepareLabels(label, head, logits, labels, options.ignoreIndex);
    return tf.tidy(() => {
      const terms: Partial<Record<LossName, tf.Scalar>> = {};
      let sum: tf.Scalar | undefined;
      for (const { name, weight } of active.terms) {
        const term = LOSSES[name].core(logits, prepared, options);
        terms[name] = term;
        const weighted = tf.mul(term, weight) as tf.Scalar;
        sum = sum === undefined ? weighted : (tf.add(sum, weighted) as tf.Scalar);
      }
      const total = tf.mul(sum ?? tf.scalar(0), active.outputWeight) as tf.Scalar;
      return { total, terms };
    });
  };
}
