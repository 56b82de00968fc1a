import type { LossFn } from './types.js';
import { runtimeError } from '../util/errors.js';

/** Placeholder until the loss issue lands. */
export const lovaszHingeLoss: LossFn = () => {
  throw runtimeError('lovasz_hinge_loss is not built yet');
};
