import type { LossFn } from './types.js';
import { runtimeError } from '../util/errors.js';

/** Placeholder until the loss issue lands. */
export const diceLoss: LossFn = () => {
  throw runtimeError('dice_loss is not built yet');
};
