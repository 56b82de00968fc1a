/**
 * Learning-rate policies, as pdseg's train.py defines them (reference §3), without its off-by-one:
 * the step counts are the real ones (drop_last: floor(N / BATCH_SIZE) steps per epoch), so poly
 * reaches 0 exactly at the end of the last epoch.
 *
 *   t        global step, 0-based, counted from epoch 1 (a resumed run continues the count)
 *   total    NUM_EPOCHS · stepsPerEpoch;  W = LR_WARMUP_STEPS when LR_WARMUP else 0
 *   warm-up  t < W: LR · (t + 1) / W (pdseg's counter starts at 1, so the first step already
 *            moves and step W − 1 reaches LR); the decay counter t' = t − W is held at 0 meanwhile
 *   poly     LR · (1 − min(t', D)/D)^POWER, D = total − W
 *   piecewise LR · GAMMA^i, i = number of boundaries DECAY_EPOCH·stepsPerEpoch ≤ t'
 *   cosine   LR · ½(1 + cos(π · floor(t'/stepsPerEpoch) / E)), E = NUM_EPOCHS − W/stepsPerEpoch (epoch-stepped)
 */
import type { SegConfig } from '../config/schema.js';

export type LrSchedule = (step: number) => number;

export function makeLrSchedule(solver: SegConfig['SOLVER'], stepsPerEpoch: number): LrSchedule {
  const spe = Math.max(1, stepsPerEpoch);
  const total = solver.NUM_EPOCHS * spe;
  const W = solver.LR_WARMUP ? solver.LR_WARMUP_STEPS : 0;
  const lr = solver.LR;
  const decay = (t: number): number => {
    switch (solver.LR_POLICY) {
      case 'poly': {
        const D = Math.max(1, total - W);
        return lr * Math.pow(1 - Math.min(t, D) / D, solver.POWER);
      }
      case 'piecewise': {
        const i = solver.DECAY_EPOCH.filter((e) => e * spe <= t).length;
        return lr * Math.pow(solver.GAMMA, i);
      }
      case 'cosine': {
        const E = Math.max(1e-9, solver.NUM_EPOCHS - W / spe);
        return lr * 0.5 * (1 + Math.cos((Math.PI * Math.floor(t / spe)) / E));
      }
    }
  };
  return (t: number) => (t < W ? (lr * (t + 1)) / W : decay(t - W));
}
