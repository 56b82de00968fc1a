import type { LossFn } from './types.js';
import { runtimeError } from '../util/errors.js';

/** Placeholder until the loss issue lands. */
export const bceLoss: LossFn = () => {
  throw runtimeError('bce_loss is not built yet');
};
