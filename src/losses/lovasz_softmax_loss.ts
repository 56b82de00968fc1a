import type { LossFn } from './types.js';
import { runtimeError } from '../util/errors.js';

/** Placeholder until the loss issue lands. */
export const lovaszSoftmaxLoss: LossFn = () => {
  throw runtimeError('lovasz_softmax_loss is not built yet');
};
