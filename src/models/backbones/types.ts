/**
 * The backbone contract: a feature extractor that returns its deepest features at the configured
 * output stride and the stride-4 low-level features the DeepLabv3+ decoder uses.
 */
import type { OpSet } from '../../ops/types.js';
import type { NormSpec } from '../layers.js';
import type { ApplyContext } from '../types.js';
import type { VariableStore } from '../variables.js';

export type OutputStride = 8 | 16 | 32;

export interface BackboneOptions {
  /** Channels of the input images (DATASET.DATA_DIM). */
  inputChannels: number;
  /** Width multiplier (MODEL.DEEPLAB.DEPTH_MULTIPLIER). */
  multiplier: number;
  /** Stride of the deepest features; deeper stages use atrous convolution instead of striding. */
  outputStride: OutputStride;
  norm: NormSpec;
}

export interface BackboneFeatures<T> {
  /** Deepest features: [N, H/outputStride, W/outputStride, outChannels]. */
  out: T;
  /** Decoder shortcut: [N, H/4, W/4, lowLevelChannels]. */
  lowLevel: T;
}

export interface Backbone {
  readonly outChannels: number;
  readonly lowLevelChannels: number;
  readonly outputStride: OutputStride;
  apply<T>(ops: OpSet<T>, x: T, ctx: ApplyContext): BackboneFeatures<T>;
}

/** Builds a backbone's variables (under the store's scope) and returns it. */
export type BackboneBuilder = (store: VariableStore, opts: BackboneOptions) => Backbone;
