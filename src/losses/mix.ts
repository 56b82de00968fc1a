/**
 * The loss mix of a config, without tfjs: which losses are active at an epoch, with which weights.
 * The active list is SOLVER.LOSS with SOLVER.LOSS_WEIGHT, or, once the epoch reaches a
 * SOLVER.LOSS_STAGES entry's BEGIN_EPOCH, the latest such stage's LOSS with its LOSS_WEIGHT (a
 * weight the stage does not give falls back to SOLVER.LOSS_WEIGHT.<NAME>).
 */
import type { SegConfig } from '../config/schema.js';
import { LOSS_NAMES, lossWeightKey, type LossName } from './names.js';

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

/** Every loss name the run can use: SOLVER.LOSS and those of every SOLVER.LOSS_STAGES entry. */
export function allLossNames(cfg: Pick<SegConfig, 'SOLVER'>): LossName[] {
  const names = new Set<LossName>(cfg.SOLVER.LOSS as LossName[]);
  for (const stage of cfg.SOLVER.LOSS_STAGES) for (const n of stage.LOSS) names.add(n as LossName);
  return [...names];
}
