/**
 * Assembling the training loss from the config (pdseg's model_builder, section 5 of the
 * reference): total = MULTI_LOSS_WEIGHT[0] · Σ LOSS_WEIGHT.<NAME> · loss, over the active loss
 * list, summed in the registry's fixed order (softmax, dice, bce, lovasz_hinge, lovasz_softmax).
 *
 * The active list is SOLVER.LOSS with SOLVER.LOSS_WEIGHT, or, once the epoch reaches a
 * SOLVER.LOSS_STAGES entry's BEGIN_EPOCH, the latest such stage's LOSS with its LOSS_WEIGHT (a
 * weight the stage does not give falls back to SOLVER.LOSS_WEIGHT.<NAME>).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import { LOSS_NAMES, LOSSES, lossWeightKey, type LossName } from './registry.js';
import { prepareLabels, resolveLossOptions } from './common.js';
import type { ResolvedLossOptions } from './types.js';

/** The config keys buildLoss reads (a full SegConfig has them all). */
export interface LossConfig {
  DATASET: Pick<SegConfig['DATASET'], 'IGNORE_INDEX'>;
  SOLVER: Pick<SegConfig['SOLVER'], 'LOSS' | 'LOSS_WEIGHT' | 'LOSS_STAGES' | 'LOVASZ' | 'CROSS_ENTROPY_WEIGHT'>;
  MODEL: Pick<SegConfig['MODEL'], 'MULTI_LOSS_WEIGHT'>;
}

/** One term of the active loss mix. */
export interface LossTerm {
  name: LossName;
  /** Its weight in the total (LOSS_WEIGHT.<NAME>, before MULTI_LOSS_WEIGHT[0]). */
  weight: number;
}

/** Which losses are active at an epoch, and where that choice comes from. */
export interface ActiveLossStage {
  /** Index in SOLVER.LOSS_STAGES, or null for SOLVER.LOSS itself. */
  stage: number | null;
  /** First epoch of that stage (SOLVER.BEGIN_EPOCH's meaning is not used: null for SOLVER.LOSS). */
  beginEpoch: number | null;
  /** The terms, in summation (registry) order, each name once. */
  terms: LossTerm[];
  /** The factor of the whole sum: MODEL.MULTI_LOSS_WEIGHT[0]. */
  outputWeight: number;
  /** One line for the trainer's log, e.g. `stage 1 (from epoch 50): 0.5·lovasz_hinge_loss + 0.5·bce_loss`. */
  describe: string;
}

/**
 * The loss mix active at `epoch`: SOLVER.LOSS/LOSS_WEIGHT, or the latest SOLVER.LOSS_STAGES entry
 * whose BEGIN_EPOCH ≤ epoch. Without an epoch, SOLVER.LOSS.
 */
export function activeLossStage(config: LossConfig, epoch?: number): ActiveLossStage {
  const solver = config.SOLVER;
  let stage: number | null = null;
  if (epoch !== undefined) {
    let latest = -Infinity;
    solver.LOSS_STAGES.forEach((s, i) => {
      if (s.BEGIN_EPOCH <= epoch && s.BEGIN_EPOCH >= latest) {
        latest = s.BEGIN_EPOCH;
        stage = i;
      }
    });
  }
  const chosen = stage === null ? undefined : solver.LOSS_STAGES[stage];
  const names = new Set<string>(chosen ? chosen.LOSS : solver.LOSS);
  const baseWeights = solver.LOSS_WEIGHT as Record<string, number>;
  const stageWeights = (chosen?.LOSS_WEIGHT ?? {}) as Record<string, number | undefined>;
  const terms: LossTerm[] = LOSS_NAMES.filter((n) => names.has(n)).map((name) => {
    const key = lossWeightKey(name);
    return { name, weight: stageWeights[key] ?? baseWeights[key] ?? 1 };
  });
  const outputWeight = config.MODEL.MULTI_LOSS_WEIGHT[0] ?? 1;
  const sum = terms.map((t) => `${t.weight}·${t.name}`).join(' + ');
  const where = chosen ? `SOLVER.LOSS_STAGES[${stage}] (from epoch ${chosen.BEGIN_EPOCH})` : 'SOLVER.LOSS';
  return {
    stage,
    beginEpoch: chosen ? chosen.BEGIN_EPOCH : null,
    terms,
    outputWeight,
    describe: `${where}: ${outputWeight === 1 ? sum : `${outputWeight}·(${sum})`}`,
  };
}

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
  const head = active.terms.some((t) => LOSSES[t.name].head === 'one-channel') ? 'one-channel' : 'multi-channel';
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
