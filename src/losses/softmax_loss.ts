import type { LossFn } from './types.js';
import { runtimeError } from '../util/errors.js';

/** Placeholder until the loss issue lands. */
export const softmaxLoss: LossFn = () => {
  throw runtimeError('softmax_loss is not built yet');
};
