/**
 * The training state a checkpoint holds (state.json): where the run is, its seed, the optimiser's
 * step count and the best metric so far. With the weights and optimiser slots it is everything a
 * resumed run needs to continue exactly.
 */
import { dataError } from '../util/errors.js';

/** Where a run is: the data position (epoch, steps of it done) and the updates done in all. */
export type Position = {
  /** Epoch the data position refers to. */
  epoch: number;
  /** Steps of `epoch` already done (stepsPerEpoch when the epoch is complete). */
  epochStep: number;
  /** Updates done since the start of training. */
  globalStep: number;
};

export type Best = { metric: string; value: number; epoch: number };

export type TrainState = Position & {
  stepsPerEpoch: number;
  /** Run seed: with (epoch, epochStep) it fixes every later random choice (data order, augmentation, dropout). */
  seed: number;
  optimizerStep: number;
  best: Best | null;
  /** Why this checkpoint was written. */
  reason: 'snapshot' | 'final' | 'interrupted' | 'best';
};

const INTEGERS = ['epoch', 'epochStep', 'globalStep', 'stepsPerEpoch', 'seed', 'optimizerStep'] as const;

/** state.json of checkpoint `dir`, checked field by field (it comes from disk). */
export function readTrainState(raw: Record<string, unknown>, dir: string): TrainState {
  const bad = (what: string): never => {
    throw dataError(`${dir}: state.json ${what}`, { file: dir, hint: 'the checkpoint is damaged or was not written by seg train; resume from another one' });
  };
  for (const k of INTEGERS) if (!Number.isInteger(raw[k]) || (raw[k] as number) < 0) bad(`has no valid ${k}`);
  const best = raw['best'];
  if (best !== null && (typeof best !== 'object' || typeof (best as Best).metric !== 'string' || typeof (best as Best).value !== 'number' || !Number.isInteger((best as Best).epoch))) bad('has an invalid best');
  const reason = raw['reason'];
  if (reason !== 'snapshot' && reason !== 'final' && reason !== 'interrupted' && reason !== 'best') bad('has an invalid reason');
  const n = (k: (typeof INTEGERS)[number]): number => raw[k] as number;
  return { epoch: n('epoch'), epochStep: n('epochStep'), globalStep: n('globalStep'), stepsPerEpoch: n('stepsPerEpoch'), seed: n('seed'), optimizerStep: n('optimizerStep'), best: best as Best | null, reason: reason as TrainState['reason'] };
}

/** The position to continue from after a checkpoint at `p`: the next epoch once this one is complete. */
export function nextPosition(p: Position, stepsPerEpoch: number): Position {
  return p.epochStep >= stepsPerEpoch ? { epoch: p.epoch + 1, epochStep: 0, globalStep: p.globalStep } : { ...p };
}
